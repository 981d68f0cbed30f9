import {
  MongoBulkWriteError, MongoClient, MongoNetworkError,
  type AnyBulkWriteOperation, type BulkWriteOperationError, type BulkWriteResult, type Collection, type Db,
  type WriteConcernError, type WriteConcernErrorData, type WriteError,
} from 'mongodb';
import { ConfigError } from '../../../../shared/errors';
import { startJongodb, type MongoServer } from '../../../../test/support/store-servers';
import { MongoDbResultStore, type ResultDocument } from '../mongodb-result-store';
import { mongoClientOptions, readMongoDbSettings } from '../mongodb-settings';
import type { ScoredResult } from '../result-store';
import { resultStoreContract } from './result-store-contract';

/**
 * The MongoDB adapter against jongodb 0.1.6 (a MongoDB wire-protocol server, a child process on 127.0.0.1) with the
 * official driver. jongodb runs bulk writes ordered and all-or-nothing, so real MongoDB's unordered partial result
 * (some ops written, the others listed by index) is built here with the driver's own error classes and thrown in
 * place of the server's answer, the other ops being written to jongodb for real. Not covered: replica-set semantics
 * (write concern timeouts, failover, retryable writes), a real mongod's upsert races.
 */
// The driver exports these as types only; its bulk module holds the classes it builds real errors from at run time.
const driverBulk = require('mongodb/lib/bulk/common') as {
  WriteError: new (error: BulkWriteOperationError) => WriteError;
  WriteConcernError: new (error: WriteConcernErrorData) => WriteConcernError;
  // Internal to the driver, so absent from its types.
  BulkWriteResult: new (bulkResult: Record<string, unknown>, isOrdered: boolean) => BulkWriteResult;
};

let server: MongoServer;
let client: MongoClient;
let otherTask: MongoClient;
let db: Db;
let collections = 0;

beforeAll(async () => {
  server = await startJongodb();
  client = await MongoClient.connect(server.uri);
  otherTask = await MongoClient.connect(server.uri);
  db = client.db('batch');
});

afterAll(async () => {
  await client?.close();
  await otherTask?.close();
  await server?.stop();
});

const newCollection = () => db.collection<ResultDocument>(`results_${++collections}`);
const result = (id: string, score = 0.5, modelVersion = 'v1'): ScoredResult => ({ id, score, modelVersion, scoredAt: '2026-12-02T00:00:00.000Z' });

async function stored(collection: Collection<ResultDocument>): Promise<ScoredResult[]> {
  const documents = await collection.find({}).toArray();
  return documents.map(({ _id, ...rest }) => ({ id: _id, ...rest }));
}

describe('MongoDbResultStore against jongodb', () => {
  resultStoreContract(async () => {
    const collection = newCollection();
    return {
      store: new MongoDbResultStore(collection),
      another: () => new MongoDbResultStore(otherTask.db('batch').collection<ResultDocument>(collection.collectionName)),
      stored: () => stored(collection),
    };
  });

  it('writes a chunk one result at a time when the server fails it whole with a duplicate key, as jongodb does', async () => {
    const collection = newCollection();
    // A second unique index the adapter never creates: the one way to make jongodb refuse an upsert by _id.
    await collection.createIndex({ score: 1 }, { unique: true });
    const results = [result('a', 1), result('b', 2), result('clash', 1), result('c', 3)];
    const outcome = await new MongoDbResultStore(collection).write(results);
    expect(outcome.written).toEqual(['a', 'b', 'c']);
    expect(outcome.failed).toEqual([{ id: 'clash', reason: expect.stringMatching(/^duplicate key after one retry: MongoServerError 11000: E11000/) }]);
    expect((await stored(collection)).map((each) => each.id).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe("MongoDbResultStore with real MongoDB's unordered errors, built with the driver's classes", () => {
  /** The collection, but bulkWrite applies only the ops `fails` spares and then throws what `fails` builds. */
  function failingBulkWrite(collection: Collection<ResultDocument>, fails: (ops: readonly AnyBulkWriteOperation<ResultDocument>[]) => { spared: number[]; error: Error }) {
    return new Proxy(collection, {
      get(target, property) {
        if (property === 'bulkWrite') {
          return async (ops: AnyBulkWriteOperation<ResultDocument>[]) => {
            const { spared, error } = fails(ops);
            if (spared.length > 0) await target.bulkWrite(spared.map((index) => ops[index]!), { ordered: false });
            throw error;
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  function unorderedError(count: number, errors: readonly { index: number; code: number; errmsg: string }[], writeConcernErrors: WriteConcernError[] = []): { spared: number[]; error: MongoBulkWriteError } {
    const failedIndices = new Set(errors.map((each) => each.index));
    const spared = Array.from({ length: count }, (_, i) => i).filter((i) => !failedIndices.has(i));
    const writeErrors = errors.map((each) => new driverBulk.WriteError({ ...each, errInfo: {}, op: {} }));
    const bulkResult = new driverBulk.BulkWriteResult({ ok: 1, writeErrors, writeConcernErrors, insertedIds: [], nInserted: 0, nUpserted: spared.length, nMatched: 0, nModified: 0, nRemoved: 0, upserted: spared.map((index) => ({ index, _id: `id-${index}` })) }, false);
    const error = writeErrors.length > 0
      ? new MongoBulkWriteError({ message: errors[0]!.errmsg, code: errors[0]!.code, writeErrors }, bulkResult)
      : new MongoBulkWriteError(writeConcernErrors[0]!, bulkResult);
    return { spared, error };
  }

  it('reports failed exactly the ops MongoDB lists by index, and the rest written', async () => {
    const collection = newCollection();
    const store = new MongoDbResultStore(failingBulkWrite(collection, (ops) => unorderedError(ops.length, [
      { index: 1, code: 121, errmsg: 'Document failed validation' },
      { index: 3, code: 2, errmsg: 'bad value' },
    ])));
    const results = ['r0', 'r1', 'r2', 'r3', 'r4'].map((id) => result(id));
    const outcome = await store.write(results);
    expect(outcome.written).toEqual(['r0', 'r2', 'r4']);
    expect(outcome.failed).toEqual([
      { id: 'r1', reason: 'MongoDB write error 121: Document failed validation' },
      { id: 'r3', reason: 'MongoDB write error 2: bad value' },
    ]);
    expect(await store.existing(results.map((each) => each.id))).toEqual(new Set(['r0', 'r2', 'r4']));
  });

  it('retries a duplicate-key op once, alone: written if the retry lands, failed if it does not', async () => {
    const collection = newCollection();
    const store = new MongoDbResultStore(failingBulkWrite(collection, (ops) => unorderedError(ops.length, [{ index: 1, code: 11000, errmsg: 'E11000 duplicate key error' }])));
    // The racing writer's result is already there, as after a lost upsert race; the retry replaces it with ours.
    await collection.insertOne({ _id: 'raced', score: 0.1, modelVersion: 'v1', scoredAt: '2026-12-01T00:00:00.000Z' });
    const outcome = await store.write([result('first'), result('raced', 0.9, 'v2'), result('last')]);
    expect(outcome).toEqual({ written: ['first', 'raced', 'last'], failed: [] });
    expect(await collection.findOne({ _id: 'raced' })).toEqual({ _id: 'raced', score: 0.9, modelVersion: 'v2', scoredAt: '2026-12-02T00:00:00.000Z' });

    // A retry that meets a duplicate key again (here another unique index) gives up: that id is failed.
    const guarded = newCollection();
    await guarded.createIndex({ score: 1 }, { unique: true });
    await guarded.insertOne({ _id: 'holder', score: 0.7, modelVersion: 'v1', scoredAt: '2026-12-01T00:00:00.000Z' });
    const stuck = await new MongoDbResultStore(failingBulkWrite(guarded, (ops) => unorderedError(ops.length, [{ index: 0, code: 11000, errmsg: 'E11000 duplicate key error' }])))
      .write([result('blocked', 0.7), result('free', 0.2)]);
    expect(stuck.written).toEqual(['free']);
    expect(stuck.failed).toEqual([{ id: 'blocked', reason: expect.stringMatching(/^duplicate key after one retry: MongoServerError 11000/) }]);
  });

  it('reports a chunk failed whole when the write concern was not satisfied', async () => {
    const collection = newCollection();
    const timeout = new driverBulk.WriteConcernError({ code: 64, errmsg: 'waiting for replication timed out' });
    const store = new MongoDbResultStore(failingBulkWrite(collection, (ops) => unorderedError(ops.length, [], [timeout])));
    const outcome = await store.write([result('w1'), result('w2')]);
    expect(outcome.written).toEqual([]);
    expect(outcome.failed.map((each) => each.id)).toEqual(['w1', 'w2']);
    expect(outcome.failed[0]!.reason).toMatch(/^write concern not satisfied: 64 waiting for replication timed out$/);
  });

  it('reports every id of a chunk whose call fails on the network failed, and writes the other chunks', async () => {
    const collection = newCollection();
    let calls = 0;
    const flaky = new Proxy(collection, {
      get(target, property) {
        if (property === 'bulkWrite') {
          return async (ops: AnyBulkWriteOperation<ResultDocument>[]) => {
            if (++calls === 1) throw new MongoNetworkError('connection 4 to 127.0.0.1:27017 closed');
            return target.bulkWrite(ops, { ordered: false });
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const store = new MongoDbResultStore(flaky);
    const results = Array.from({ length: store.maxWriteBatch + 20 }, (_, i) => result(`n-${i}`));
    const outcome = await store.write(results);
    expect(outcome.failed.map((each) => each.id)).toEqual(results.slice(0, store.maxWriteBatch).map((each) => each.id));
    expect(new Set(outcome.failed.map((each) => each.reason))).toEqual(new Set(['MongoNetworkError: connection 4 to 127.0.0.1:27017 closed']));
    expect(outcome.written).toEqual(results.slice(store.maxWriteBatch).map((each) => each.id));
    expect((await stored(collection)).length).toBe(20);
  });
});

describe('readMongoDbSettings', () => {
  const base = { MONGODB_URI: 'mongodb://127.0.0.1:27017/?tls=false', MONGODB_DATABASE: 'batch' };

  it('reads the URI, database and collection, defaulting the collection to results', () => {
    expect(readMongoDbSettings(base)).toEqual({ uri: base.MONGODB_URI, database: 'batch', collection: 'results' });
    expect(readMongoDbSettings({ ...base, MONGODB_COLLECTION: 'scores' }).collection).toBe('scores');
  });

  it('refuses a URI that embeds a password, without repeating it, and names the two ways to authenticate', () => {
    const read = () => readMongoDbSettings({ ...base, MONGODB_URI: 'mongodb+srv://scorer:s3cr%40t@cluster0.example.net/?retryWrites=true' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/MONGODB_URI embeds a password.*MONGODB_PASSWORD_FILE.*authMechanism=MONGODB-AWS/s);
    expect(read).not.toThrow(/s3cr/);
    expect(() => readMongoDbSettings({ ...base, MONGODB_URI: 'mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:abc' })).toThrow(/embeds an AWS session token/);
  });

  it('names every problem at once', () => {
    let message = '';
    try {
      readMongoDbSettings({ MONGODB_URI: 'http://h', MONGODB_DATABASE: 'a.b', MONGODB_COLLECTION: 'system.users' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/MONGODB_URI="http:\/\/h" is invalid/);
    expect(message).toMatch(/MONGODB_DATABASE="a\.b" is invalid/);
    expect(message).toMatch(/MONGODB_COLLECTION="system\.users" is invalid/);
    expect(() => readMongoDbSettings({})).toThrow(/MONGODB_URI is missing[^]*MONGODB_DATABASE is missing/);
  });

  it('takes the password from MONGODB_PASSWORD_FILE for the user the URI names', () => {
    const settings = readMongoDbSettings({ ...base, MONGODB_URI: 'mongodb://scorer@db.internal:27017/?tls=true', MONGODB_PASSWORD_FILE: '/run/secrets/mongodb' });
    expect(mongoClientOptions(settings, (path) => (path === '/run/secrets/mongodb' ? 'pa55\n' : ''))).toEqual({ auth: { username: 'scorer', password: 'pa55' } });
    expect(mongoClientOptions(readMongoDbSettings(base))).toEqual({});
    expect(() => mongoClientOptions(settings, () => '')).toThrow(/MONGODB_PASSWORD_FILE=\/run\/secrets\/mongodb is empty/);
    expect(() => readMongoDbSettings({ ...base, MONGODB_PASSWORD_FILE: '/run/secrets/mongodb' })).toThrow(/names no user/);
  });
});
