// PostgreSQL's logical replication protocol, version 1, as the pgoutput plugin writes it
// (https://www.postgresql.org/docs/17/protocol-logicalrep-message-formats.html): the messages
// of committed transactions, with column values in text format.

export type Relation = {
  id: number;
  schema: string;
  table: string;
  columns: { name: string; typeOid: number; isKey: boolean }[];
};

/** A column value: text as PostgreSQL prints it, null, or unchanged TOAST (not sent). */
export type ColumnValue = string | null | { unchanged: true };

export type DecodedMessage =
  | { tag: "begin"; commitTime: Date }
  | { tag: "commit"; commitTime: Date }
  | { tag: "relation"; relation: Relation }
  | { tag: "insert"; relationId: number; values: ColumnValue[] }
  | { tag: "update"; relationId: number; old: ColumnValue[] | null; values: ColumnValue[] }
  | { tag: "delete"; relationId: number; old: ColumnValue[] }
  | { tag: "other" };

// Commit timestamps count microseconds from 2000-01-01 UTC.
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

export function decodeMessage(data: Buffer): DecodedMessage {
  const reader = new Reader(data);
  const tag = String.fromCharCode(reader.u8());
  switch (tag) {
    case "B": {
      reader.skip(8); // final LSN
      return { tag: "begin", commitTime: timestamp(reader.i64()) };
    }
    case "C": {
      reader.skip(1 + 8 + 8); // flags, commit LSN, end LSN
      return { tag: "commit", commitTime: timestamp(reader.i64()) };
    }
    case "R": {
      const id = reader.u32();
      const schema = reader.cstring();
      const table = reader.cstring();
      reader.skip(1); // replica identity
      const count = reader.u16();
      const columns = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.u8();
        const name = reader.cstring();
        const typeOid = reader.u32();
        reader.skip(4); // type modifier
        columns.push({ name, typeOid, isKey: (flags & 1) === 1 });
      }
      return { tag: "relation", relation: { id, schema, table, columns } };
    }
    case "I": {
      const relationId = reader.u32();
      reader.expect("N");
      return { tag: "insert", relationId, values: tuple(reader) };
    }
    case "U": {
      const relationId = reader.u32();
      let old: ColumnValue[] | null = null;
      const kind = String.fromCharCode(reader.u8());
      if (kind === "K" || kind === "O") {
        old = tuple(reader);
        reader.expect("N");
      } else if (kind !== "N") throw new Error(`pgoutput: unexpected update tuple kind ${kind}`);
      return { tag: "update", relationId, old, values: tuple(reader) };
    }
    case "D": {
      const relationId = reader.u32();
      reader.u8(); // 'K' (key) or 'O' (whole old row)
      return { tag: "delete", relationId, old: tuple(reader) };
    }
    default:
      return { tag: "other" }; // Origin, Type, Truncate: not delivered by Realtime's postgres_changes
  }
}

function tuple(reader: Reader): ColumnValue[] {
  const count = reader.u16();
  const values: ColumnValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = String.fromCharCode(reader.u8());
    if (kind === "n") values.push(null);
    else if (kind === "u") values.push({ unchanged: true });
    else if (kind === "t") values.push(reader.bytes(reader.u32()).toString("utf8"));
    else throw new Error(`pgoutput: unexpected column kind ${kind} (binary format not requested)`);
  }
  return values;
}

function timestamp(microseconds: bigint): Date {
  return new Date(POSTGRES_EPOCH_MS + Number(microseconds / 1000n));
}

class Reader {
  private offset = 0;
  private readonly data: Buffer;
  constructor(data: Buffer) {
    this.data = data;
  }
  u8(): number {
    return this.data.readUInt8(this.offset++);
  }
  u16(): number {
    const value = this.data.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  u32(): number {
    const value = this.data.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  i64(): bigint {
    const value = this.data.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  skip(count: number): void {
    this.offset += count;
  }
  bytes(count: number): Buffer {
    const value = this.data.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }
  cstring(): string {
    const end = this.data.indexOf(0, this.offset);
    const value = this.data.toString("utf8", this.offset, end);
    this.offset = end + 1;
    return value;
  }
  expect(kind: string): void {
    const actual = String.fromCharCode(this.u8());
    if (actual !== kind) throw new Error(`pgoutput: expected ${kind}, got ${actual}`);
  }
}
