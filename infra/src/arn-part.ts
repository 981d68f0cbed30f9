import { Fn } from 'cdktf';

/**
 * A field of a resource's ARN, read at apply time (1: partition, 4: account): policies that must name the account
 * take it from a resource they already reference, so a plan needs no caller-identity lookup.
 */
export function arnPart(arn: string, index: 1 | 4): string {
  return Fn.element(Fn.split(':', arn), index);
}
