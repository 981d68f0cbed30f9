/**
 * The Terraform CDK framework as the infrastructure uses it, and the only file that names the framework packages,
 * so moving from CDKTF (archived upstream) to its fork CDK Terrain is a rename here: `cdktf` → `cdktn`, with the
 * fork's own `constructs`. infra/test/cdktn-synth.test.ts synthesizes the stack under the fork to keep that true.
 */
export {
  Annotations, App, Aspects, AssetType, DefaultTokenResolver, Fn, S3Backend, StringConcat, TerraformAsset, TerraformLocal, TerraformOutput,
  TerraformStack, Testing, Tokenization, type IAspect, type ITerraformDependable,
} from 'cdktf';
export { Construct, type IConstruct } from 'constructs';
