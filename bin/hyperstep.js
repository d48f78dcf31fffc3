#!/usr/bin/env node
// The hyperstep command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import { main } from "../dist/src/cli.js";

process.exitCode = main(process.argv.slice(2));
