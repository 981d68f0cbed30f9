// Adds toHaveReceivedCommandWith & co. to expect() for every SDK-boundary test.
import 'aws-sdk-client-mock-jest';
// Adds cdktf's toHaveResource, toHaveResourceWithProperties & co. (and, through the type import, their typings) for
// the construct tests. Under jest these compare with expect.objectContaining: keys as synthesized, in snake_case.
import type {} from 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';

Testing.setupJest();
