import { PermanentError } from '../../../../shared/errors';

/**
 * A record's audio can never be scored (not a WAV file, truncated, an unsupported encoding, too short, or samples
 * that are not numbers): it dead-letters that record alone. Messages name the problem and the numbers of the header
 * that broke a rule, never the file's content.
 */
export class UndecodableAudioError extends PermanentError {
  override readonly name = 'UndecodableAudioError';
  readonly reason = 'undecodable-audio';
}
