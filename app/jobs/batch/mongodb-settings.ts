import { readFileSync } from 'node:fs';
import type { MongoClientOptions } from 'mongodb';
import { ConfigError } from '../../../shared/errors';
import { EnvReader, deepFreeze } from '../../src/job/env-reader';

/** Where the MongoDB result store lives. TLS and the auth mechanism are the URI's (`tls=true`, `authMechanism=`). */
export interface MongoDbSettings {
  /** MONGODB_URI: `mongodb://` or `mongodb+srv://`, with at most a user name, never a password. */
  readonly uri: string;
  /** MONGODB_DATABASE. */
  readonly database: string;
  /** MONGODB_COLLECTION (default `results`). */
  readonly collection: string;
  /** MONGODB_PASSWORD_FILE: a mounted secret file holding the password of the URI's user. */
  readonly passwordFile?: string;
}

const SCHEME = /^mongodb(\+srv)?:\/\//i;
// The spec requires `@`, `/` and `:` in a user name or password to be percent-encoded, so the first `@` ends them.
const USER_INFO = /^mongodb(?:\+srv)?:\/\/([^@/?#]*)@/i;
const DATABASE_NAME = /^[^/\\. "$*<>:|?]{1,63}$/;
const DATABASE_EXPECTED = 'a database name (1 to 63 characters, none of /\\. "$*<>:|?)';
const COLLECTION_NAME = /^(?!system\.)[^$\0]{1,120}$/;

export function readMongoDbSettings(env: NodeJS.ProcessEnv): MongoDbSettings {
  const read = new EnvReader(env);
  const problems: string[] = [];
  const raw = read.required('MONGODB_URI', 'mongodb://[<user>@]<host>[:<port>][,<host>...]/[?<options>] or mongodb+srv://...');
  // Checked before anything echoes the value: a problem message must not carry the password into the logs.
  const secret = secretIn(raw);
  if (secret !== undefined) {
    problems.push(`MONGODB_URI embeds ${secret}: secrets do not go in environment variables. Put the user name alone in the URI and `
      + 'the password in a mounted secret file named by MONGODB_PASSWORD_FILE, or use authMechanism=MONGODB-AWS with the task role');
  }
  const uri = secret === undefined && raw !== '' ? read.parsed('MONGODB_URI', '', (value) => (SCHEME.test(value) ? value : undefined), 'a URI starting mongodb:// or mongodb+srv://') : '';
  const database = read.parsed('MONGODB_DATABASE', '', (value) => (DATABASE_NAME.test(value) ? value : undefined), DATABASE_EXPECTED);
  if (read.present('MONGODB_DATABASE') === undefined) read.required('MONGODB_DATABASE', DATABASE_EXPECTED);
  const collection = read.parsed('MONGODB_COLLECTION', 'results', (value) => (COLLECTION_NAME.test(value) ? value : undefined), 'a collection name without $, not starting with system.');
  const passwordFile = read.present('MONGODB_PASSWORD_FILE');
  if (passwordFile !== undefined && uri !== '' && userOf(uri) === undefined) {
    problems.push('MONGODB_PASSWORD_FILE is set but MONGODB_URI names no user: expected mongodb://<user>@<host>/...');
  }
  try {
    read.throwIfInvalid();
  } catch (error) {
    problems.unshift((error as Error).message);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return deepFreeze({ uri, database, collection, ...(passwordFile === undefined ? {} : { passwordFile }) });
}

/** The client's options: the password read from its file at start, so a rotated secret takes effect on the next task. */
export function mongoClientOptions(settings: MongoDbSettings, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): MongoClientOptions {
  if (settings.passwordFile === undefined) return {};
  let password: string;
  try {
    password = readFile(settings.passwordFile).replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError(`MONGODB_PASSWORD_FILE=${settings.passwordFile} cannot be read: ${(error as Error).message}`);
  }
  if (password === '') throw new ConfigError(`MONGODB_PASSWORD_FILE=${settings.passwordFile} is empty`);
  return { auth: { username: userOf(settings.uri), password } };
}

/** What secret the URI carries, if any, named without its value. */
function secretIn(uri: string): string | undefined {
  if (USER_INFO.exec(uri)?.[1]?.includes(':')) return 'a password';
  if (/AWS_SESSION_TOKEN\s*:/i.test(decodeSafely(uri))) return 'an AWS session token';
  return undefined;
}

function userOf(uri: string): string | undefined {
  const userInfo = USER_INFO.exec(uri)?.[1];
  return userInfo === undefined || userInfo === '' ? undefined : decodeSafely(userInfo);
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
