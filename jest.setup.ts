// Adds toHaveReceivedCommandWith & co. to expect() for every SDK-boundary test.
import 'aws-sdk-client-mock-jest';
// Adds cdktf's toHaveResource, toHaveResourceWithProperties & co. (and their typings) for the construct tests.
import { addTerraformMatchers } from './infra/src/framework/jest-matchers';

addTerraformMatchers();
