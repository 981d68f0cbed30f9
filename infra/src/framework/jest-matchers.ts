// The type import brings the typings of cdktf's toHaveResource, toHaveResourceWithProperties & co. into the program;
// setupJest adds the matchers themselves. Under jest they compare with expect.objectContaining, keys in snake_case.
import type {} from 'cdktf/lib/testing/adapters/jest';
import { Testing } from 'cdktf';

export function addTerraformMatchers(): void {
  Testing.setupJest();
}
