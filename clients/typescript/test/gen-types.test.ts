import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CLIENT_MESSAGE_TYPES, ERROR_CODES, SERVER_FRAME_TYPES, parseServerFrame } from "../src/index.js";
import { vectorDir } from "./helpers/vectors.js";

const root = join(vectorDir(), "..", "..", "..");
const script = join(root, "clients", "typescript", "scripts", "gen-types.mjs");
const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: "utf8" });

describe("generated API v2 types", () => {
  it("the checked-in file matches the schema, and a changed schema makes the check fail", () => {
    assert.equal(run("--check").status, 0);
    const dir = mkdtempSync(join(tmpdir(), "gen-types-"));
    try {
      const schema = JSON.parse(readFileSync(join(root, "docs", "api-v2.schema.json"), "utf8")) as { $defs: { ErrorBody: { description: string } } };
      const out = join(dir, "out.ts");
      writeFileSync(join(dir, "s.json"), JSON.stringify(schema));
      assert.equal(run("--schema", join(dir, "s.json"), "--out", out).status, 0);
      assert.equal(run("--schema", join(dir, "s.json"), "--out", out, "--check").status, 0);
      schema.$defs.ErrorBody.description = "changed";
      writeFileSync(join(dir, "s.json"), JSON.stringify(schema));
      const stale = run("--schema", join(dir, "s.json"), "--out", out, "--check");
      assert.equal(stale.status, 1);
      assert.match(stale.stderr, /stale/);
      (schema.$defs.ErrorBody as Record<string, unknown>).patternProperties = {};
      writeFileSync(join(dir, "s.json"), JSON.stringify(schema));
      const unknown = run("--schema", join(dir, "s.json"), "--out", out);
      assert.equal(unknown.status, 2, "unknown schema keywords fail loudly");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exports the runtime lists and parses only well-formed server frames", () => {
    assert.ok(ERROR_CODES.includes("SIGN_ERROR"));
    assert.deepEqual([...CLIENT_MESSAGE_TYPES].sort(), ["credential_notification", "flow_action", "flow_start", "handshake", "match_response", "sign_response"]);
    assert.ok(SERVER_FRAME_TYPES.includes("notification_ack"));
    assert.equal(parseServerFrame('{"type":"flow_progress","flow_id":"f","step":"s","timestamp":"t"}')?.type, "flow_progress");
    for (const bad of ["", "[]", "null", '{"type":"nope"}', '{"type":"flow_error","flow_id":"f"}', '{"type":"sign_request","flow_id":"f"}', '{"type":"flow_progress"}', "{".repeat(10)]) {
      assert.equal(parseServerFrame(bad), null, bad);
    }
  });
});
