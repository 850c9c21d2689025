import { CamelCasePlugin } from 'kysely';
import type { QueryRunner } from './kysely';

/** The TypeScript type of each PostgreSQL column type used in the schema, as node-postgres returns it. */
const TYPES: Record<string, string> = {
  bool: 'boolean',
  bytea: 'Buffer',
  float4: 'number',
  float8: 'number',
  int2: 'number',
  int4: 'number',
  // node-postgres returns bigint as a string (no precision lost); numbers are accepted when writing.
  int8: 'Int8',
  jsonb: 'Json',
  json: 'Json',
  numeric: 'Numeric',
  text: 'string',
  varchar: 'string',
  cidr: 'string',
  inet: 'string',
  timestamptz: 'Timestamp',
  timestamp: 'Timestamp',
  uuid: 'string',
};

const PREAMBLE = `/**
 * The catalog's tables as the migrations leave them, for Kysely (kyselyOn). GENERATED from a freshly migrated
 * schema by \`npm run db:types -w @yunying/catalog\`: do not edit; database.types.int.test.ts fails when this
 * file and the migrations disagree. Names are camelCase (kyselyOn maps them to the snake_case columns).
 */
import type { ColumnType } from 'kysely';

export type Generated<T> = T extends ColumnType<infer S, infer I, infer U> ? ColumnType<S, I | undefined, U> : ColumnType<T, T | undefined, T>;
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
export type Numeric = ColumnType<string, string | number, string | number>;
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Json = ColumnType<JsonValue, JsonValue, JsonValue>;
`;

interface ColumnInfo {
  table_name: string;
  column_name: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
  has_default: boolean;
}

/** Exposes the plugin's own name conversion, so the generated names are exactly what it maps back. */
class Names extends CamelCasePlugin {
  toCamel(name: string): string {
    return this.camelCase(name);
  }
  toSnake(name: string): string {
    return this.snakeCase(name);
  }
}

function pascal(camel: string): string {
  return camel.charAt(0).toUpperCase() + camel.slice(1);
}

function tsType(udt: string, where: string): string {
  const element = udt.startsWith('_') ? udt.slice(1) : null;
  const base = TYPES[element ?? udt];
  if (base === undefined) throw new Error(`${where}: no TypeScript type for PostgreSQL type ${udt} (add it to TYPES in generate-types.ts)`);
  if (element === null) return base;
  // Arrays come back as arrays of what node-postgres makes of the element (int8[] as strings).
  const plain = base === 'Int8' || base === 'Numeric' ? 'string' : base === 'Timestamp' ? 'Date' : base === 'Json' ? 'JsonValue' : base;
  return `${plain}[]`;
}

/** The source of database.types.ts for the tables of `schema` (which must be fully migrated). */
export async function generateDatabaseTypes(db: QueryRunner, schema: string): Promise<string> {
  const { rows } = await db.query<ColumnInfo>(
    `SELECT c.table_name, c.column_name, c.udt_name, c.is_nullable, (c.column_default IS NOT NULL OR c.is_identity = 'YES') AS has_default
       FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
        -- A partition (instances_h00, ...) is written through its parent only: no type of its own.
        AND NOT EXISTS (SELECT 1 FROM pg_class pc JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                         WHERE pn.nspname = c.table_schema AND pc.relname = c.table_name AND pc.relispartition)
      ORDER BY c.table_name COLLATE "C", c.ordinal_position`,
    [schema],
  );
  const names = new Names();
  const tables = new Map<string, string[]>();
  for (const column of rows) {
    const where = `${column.table_name}.${column.column_name}`;
    const field = names.toCamel(column.column_name);
    if (names.toSnake(field) !== column.column_name) throw new Error(`${where}: the camelCase name ${field} would not map back to the column`);
    let type = tsType(column.udt_name, where);
    if (column.is_nullable === 'YES') type = `${type} | null`;
    if (column.has_default) type = `Generated<${type}>`;
    const fields = tables.get(column.table_name) ?? [];
    fields.push(`  ${field}: ${type};`);
    tables.set(column.table_name, fields);
  }
  const out = [PREAMBLE];
  const entries: string[] = [];
  for (const [table, fields] of tables) {
    const name = names.toCamel(table);
    if (names.toSnake(name) !== table) throw new Error(`${table}: the camelCase name ${name} would not map back to the table`);
    out.push(`export interface ${pascal(name)} {\n${fields.join('\n')}\n}\n`);
    entries.push(`  ${name}: ${pascal(name)};`);
  }
  out.push(`export interface DB {\n${entries.join('\n')}\n}\n`);
  return out.join('\n');
}
