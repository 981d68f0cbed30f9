import { assertSupportedPolicy, evaluate, globMatches, isAllowed, UnsupportedPolicyError, type IamStatement } from '../src/iam-policy-evaluator';

const readPhotos: IamStatement = { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/in/*' };

describe('isAllowed', () => {
  it('denies by default: no statement, or none that names the action and resource', () => {
    expect(isAllowed([], 's3:GetObject', 'arn:aws:s3:::photos/in/a.jpg', {})).toBe(false);
    expect(isAllowed([readPhotos], 's3:PutObject', 'arn:aws:s3:::photos/in/a.jpg', {})).toBe(false);
    expect(isAllowed([readPhotos], 's3:GetObject', 'arn:aws:s3:::photos/out/a.jpg', {})).toBe(false);
    expect(isAllowed([readPhotos], 's3:GetObject', 'arn:aws:s3:::other/in/a.jpg', {})).toBe(false);
    expect(isAllowed([readPhotos], 's3:GetObject', 'arn:aws:s3:::photos/in/a.jpg', {})).toBe(true);
  });

  it('lets an explicit Deny win over any Allow, whatever the order', () => {
    const everything: IamStatement = { Effect: 'Allow', Action: 's3:*', Resource: '*' };
    const noSecrets: IamStatement = { Sid: 'NoSecrets', Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/in/secret/*' };
    for (const statements of [[everything, noSecrets], [noSecrets, everything]]) {
      expect(isAllowed(statements, 's3:GetObject', 'arn:aws:s3:::photos/in/secret/a.jpg', {})).toBe(false);
      expect(isAllowed(statements, 's3:GetObject', 'arn:aws:s3:::photos/in/public/a.jpg', {})).toBe(true);
    }
    expect(evaluate([everything, noSecrets], 's3:GetObject', 'arn:aws:s3:::photos/in/secret/a.jpg')).toEqual({ allowed: false, reason: 'explicit-deny', statement: 1 });
    expect(evaluate([everything], 's3:GetObject', 'arn:aws:s3:::photos/in/a.jpg')).toEqual({ allowed: true, statement: 0 });
    expect(evaluate([], 's3:GetObject', 'arn:aws:s3:::photos/in/a.jpg')).toEqual({ allowed: false, reason: 'implicit-deny' });
  });

  it('matches actions case-insensitively with * and ?, from lists', () => {
    const statement: IamStatement = { Effect: 'Allow', Action: ['sqs:SendMessage', 'S3:Get*', 's3:?utObject'], Resource: '*' };
    expect(isAllowed([statement], 's3:getobject', 'arn:aws:s3:::b/k', {})).toBe(true);
    expect(isAllowed([statement], 's3:GetObjectVersion', 'arn:aws:s3:::b/k', {})).toBe(true);
    expect(isAllowed([statement], 's3:PutObject', 'arn:aws:s3:::b/k', {})).toBe(true);
    expect(isAllowed([statement], 's3:PutObjectAcl', 'arn:aws:s3:::b/k', {})).toBe(false);
    expect(isAllowed([statement], 's3:ListBucket', 'arn:aws:s3:::b', {})).toBe(false);
    expect(isAllowed([{ Effect: 'Allow', Action: '*', Resource: '*' }], 'kms:Decrypt', 'arn:aws:kms:us-east-1:1:key/x', {})).toBe(true);
  });

  it('matches resources case-sensitively; * crosses slashes, ? is exactly one character, other characters are literal', () => {
    const statement: IamStatement = { Effect: 'Allow', Action: 's3:GetObject', Resource: ['arn:aws:s3:::photos/in/*', 'arn:aws:s3:::photos/img-?.jpg'] };
    expect(isAllowed([statement], 's3:GetObject', 'arn:aws:s3:::photos/in/a/b/c d+ü.jpg', {})).toBe(true);
    expect(isAllowed([statement], 's3:GetObject', 'arn:aws:s3:::photos/In/a.jpg', {})).toBe(false);
    expect(isAllowed([statement], 's3:GetObject', 'arn:aws:s3:::photos/img-1.jpg', {})).toBe(true);
    expect(isAllowed([statement], 's3:GetObject', 'arn:aws:s3:::photos/img-ü.jpg', {})).toBe(true);
    expect(isAllowed([statement], 's3:GetObject', 'arn:aws:s3:::photos/img-12.jpg', {})).toBe(false);
    expect(isAllowed([statement], 's3:GetObject', 'arn:aws:s3:::photos/img-1xjpg', {})).toBe(false);
    expect(globMatches('a.(b)+[c]$', 'a.(b)+[c]$')).toBe(true);
    expect(globMatches('a.b', 'axb')).toBe(false);
    expect(globMatches('line*', 'line\nbreak')).toBe(true);
  });

  describe('the s3:prefix condition', () => {
    const listIn: IamStatement = { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::photos', Condition: { StringLike: { 's3:prefix': ['in/*', 'exact'] } } };
    const listExactly: IamStatement = { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::photos', Condition: { StringEquals: { 's3:prefix': 'in/*' } } };

    it('StringLike matches any of its globs', () => {
      expect(isAllowed([listIn], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'in/a/b.jpg' })).toBe(true);
      expect(isAllowed([listIn], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'in/' })).toBe(true);
      expect(isAllowed([listIn], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'exact' })).toBe(true);
      expect(isAllowed([listIn], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'out/a.jpg' })).toBe(false);
      expect(isAllowed([listIn], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'in' })).toBe(false);
      expect(isAllowed([listIn], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: '' })).toBe(false);
    });

    it('StringEquals compares exactly: * is a star there', () => {
      expect(isAllowed([listExactly], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'in/*' })).toBe(true);
      expect(isAllowed([listExactly], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'in/a.jpg' })).toBe(false);
    });

    it('a condition on a key the request does not carry never matches, for Allow and Deny alike', () => {
      expect(isAllowed([listIn], 's3:ListBucket', 'arn:aws:s3:::photos', {})).toBe(false);
      expect(isAllowed([{ ...listIn, Condition: { StringLike: { 's3:prefix': '*' } } }], 's3:ListBucket', 'arn:aws:s3:::photos', {})).toBe(false);
      const denyOutside: IamStatement = { Effect: 'Deny', Action: 's3:ListBucket', Resource: '*', Condition: { StringLike: { 's3:prefix': 'private/*' } } };
      const listAll: IamStatement = { Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' };
      expect(isAllowed([listAll, denyOutside], 's3:ListBucket', 'arn:aws:s3:::photos', {})).toBe(true);
      expect(isAllowed([listAll, denyOutside], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'private/x' })).toBe(false);
    });

    it('all operators and keys must hold; condition key names are case-insensitive', () => {
      const both: IamStatement = { ...listIn, Condition: { StringLike: { 'S3:Prefix': 'in/*' }, StringEquals: { 's3:prefix': 'in/a' } } };
      expect(isAllowed([both], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'in/a' })).toBe(true);
      expect(isAllowed([both], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'in/b' })).toBe(false);
    });
  });

  describe('what it cannot read', () => {
    const unknownOperator: IamStatement = { Sid: 'Odd', Effect: 'Allow', Action: 's3:ListBucket', Resource: '*', Condition: { StringNotLike: { 's3:prefix': 'x*' } } };
    const unknownKey: IamStatement = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-1' } } };

    it('fails closed: an Allow it cannot read does not apply, a Deny it cannot read does', () => {
      expect(isAllowed([unknownOperator], 's3:ListBucket', 'arn:aws:s3:::photos', { prefix: 'a' })).toBe(false);
      expect(isAllowed([unknownKey], 's3:GetObject', 'arn:aws:s3:::photos/a', {})).toBe(false);
      const odd = { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::elsewhere/*', NotPrincipal: { AWS: '*' } } as unknown as IamStatement;
      expect(isAllowed([{ Effect: 'Allow', Action: '*', Resource: '*' }, odd], 's3:GetObject', 'arn:aws:s3:::photos/a', {})).toBe(false);
    });

    it('names every unsupported part at construction', () => {
      expect(() => assertSupportedPolicy([readPhotos])).not.toThrow();
      expect(() => assertSupportedPolicy([readPhotos, unknownOperator])).toThrow(UnsupportedPolicyError);
      expect(() => assertSupportedPolicy([unknownOperator])).toThrow(/statement Odd: condition operator StringNotLike is not supported/);
      expect(() => assertSupportedPolicy([unknownKey])).toThrow(/statement 0: condition key aws:SourceVpce is not supported/);
      expect(() => assertSupportedPolicy([{ ...readPhotos, NotAction: 's3:*' } as unknown as IamStatement])).toThrow(/field NotAction is not supported/);
      expect(() => assertSupportedPolicy([{ ...readPhotos, Effect: 'allow' } as unknown as IamStatement])).toThrow(/Effect must be Allow or Deny/);
      expect(() => assertSupportedPolicy([{ ...readPhotos, Action: [] }])).toThrow(/Action is empty/);
      expect(() => assertSupportedPolicy([{ ...readPhotos, Resource: 'arn:aws:s3:::${aws:username}/*' }])).toThrow(/policy variables in Resource/);
      expect(() => assertSupportedPolicy([{ ...readPhotos, Condition: { StringLike: { 's3:prefix': '${aws:username}/*' } } }])).toThrow(/policy variables/);
    });
  });
});
