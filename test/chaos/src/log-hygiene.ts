/**
 * Scans log text for what must never be written there: secrets and credentials, signed request material, and
 * message body content (found through a canary planted in bodies). Pure over the lines it is given.
 */
export interface LogSource {
  readonly file: string;
  readonly text: string;
}

export interface HygieneRules {
  /** Exact strings that must not appear: the secret key, the access key id, body canaries. */
  readonly forbidden: readonly { readonly label: string; readonly value: string }[];
}

/** Shapes of credential material whatever its value: SigV4 headers and query strings, AWS key ids, secret names. */
const CREDENTIAL_PATTERNS: readonly { readonly label: string; readonly pattern: RegExp }[] = [
  { label: 'SigV4 authorization header', pattern: /AWS4-HMAC-SHA256\s+Credential=/i },
  { label: 'presigned URL signature', pattern: /X-Amz-Signature=/i },
  { label: 'session token', pattern: /X-Amz-Security-Token|aws_session_token/i },
  { label: 'secret access key variable', pattern: /aws_secret_access_key|secretAccessKey/i },
  { label: 'AWS access key id', pattern: /\b(AKIA|ASIA)[A-Z0-9]{16}\b/ },
];

export function findLogLeaks(sources: readonly LogSource[], rules: HygieneRules): string[] {
  const leaks: string[] = [];
  for (const source of sources) {
    const lines = source.text.split('\n');
    lines.forEach((line, index) => {
      const where = `${source.file}:${index + 1}${describe(line)}`;
      for (const { label, value } of rules.forbidden) {
        if (value !== '' && line.includes(value)) leaks.push(`${where}: ${label} appears in a log line`);
      }
      for (const { label, pattern } of CREDENTIAL_PATTERNS) {
        if (pattern.test(line)) leaks.push(`${where}: ${label} appears in a log line`);
      }
    });
  }
  return leaks;
}

/** Names the log event without repeating the leaked text: its message and reason fields when the line is JSON. */
function describe(line: string): string {
  try {
    const event = JSON.parse(line) as { message?: unknown; reason?: unknown };
    const parts = [event.message, event.reason].filter((part): part is string => typeof part === 'string');
    return parts.length > 0 ? ` (${parts.join(', ')})` : '';
  } catch {
    return '';
  }
}
