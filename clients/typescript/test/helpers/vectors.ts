// Loads the shared matcher vectors (tests/vectors/matching/*.json at the repository root).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface VectorCredential {
  id: string;
  format: string;
  credential: string;
  disclosures?: Record<string, string>;
  claims?: unknown;
  /** mso_mdoc: the MSO's docType and the elements as JSON. */
  doctype?: string;
  elements?: unknown;
}
export interface VectorCase {
  name: string;
  requires?: string[];
  wallet?: string[];
  dcql_query?: unknown;
  presentation_definition?: unknown;
  expect?: { query_id: string; credential_id: string; disclosed_claims: string[] }[] | null;
  present?: { credential_id: string; disclosed_claims: string[] };
  expect_disclosures?: string[];
}
export interface VectorFile {
  file: string;
  credentials: VectorCredential[];
  cases: VectorCase[];
}

export function vectorDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "tests", "vectors", "matching");
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, "..");
  }
  throw new Error("tests/vectors/matching not found above the test directory");
}

export function loadVectors(): VectorFile[] {
  const dir = vectorDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(dir, f), "utf8")) as Omit<VectorFile, "file">) }));
}
