import { type Construct, Fn, TerraformLocal } from './framework/core';

/**
 * A field of a resource's ARN, read at apply time (1: partition, 4: account): policies that must name the account
 * take it from a resource they already reference, so a plan needs no caller-identity lookup.
 */
export function arnPart(arn: string, index: 1 | 4): string {
  return Fn.element(Fn.split(':', arn), index);
}

/**
 * A value built from arnPart, as a Terraform local referenced by name (`${local.<id>}`). arnPart's expression holds
 * quotes (`split(":", …)`); a local keeps them out of an IAM policy written with JSON.stringify, whose synthesized text
 * then stays plain JSON for the security-policy aspect and the tests that read it.
 */
export function arnLocal(scope: Construct, id: string, value: string): string {
  return new TerraformLocal(scope, id, value).asString;
}
