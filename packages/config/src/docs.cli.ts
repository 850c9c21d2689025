import fs from 'node:fs';
import path from 'node:path';
import { replaceConfigReference } from './docs';

// Rewrites the configuration reference in README.md from the schema.
const readmePath = path.resolve(__dirname, '../../../README.md');
fs.writeFileSync(readmePath, replaceConfigReference(fs.readFileSync(readmePath, 'utf8')));
process.stdout.write(`updated ${readmePath}\n`);
