import { readFileSync } from "node:fs";
import { parse, type Tags, type YAMLMap, type YAMLSeq } from "yaml";

/**
 * Reads CloudFormation YAML the way CloudFormation does: every short-form tag (`!Ref x`, `!If [...]`) becomes
 * its long JSON form (`{"Ref": "x"}`, `{"Fn::If": [...]}`), so the tests below only deal with one shape.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const FUNCTIONS = [
  "And",
  "Base64",
  "Cidr",
  "Equals",
  "FindInMap",
  "GetAZs",
  "If",
  "ImportValue",
  "Join",
  "Not",
  "Or",
  "Select",
  "Split",
  "Sub",
] as const;

function longForm(name: string, value: unknown): JsonObject {
  if (name === "Ref") return { Ref: value as Json };
  if (name === "Condition") return { Condition: value as Json };
  if (name === "GetAtt" && typeof value === "string") {
    // `!GetAtt Resource.Attribute.With.Dots`: only the first dot separates the resource.
    const dot = value.indexOf(".");
    return { "Fn::GetAtt": [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [`Fn::${name}`]: value as Json };
}

// yaml picks a tag by tag name and node kind, so each function is registered for scalars, sequences and maps;
// CloudFormation itself decides later which shapes are legal.
const cloudFormationTags: Tags = [...FUNCTIONS, "GetAtt", "Ref", "Condition"].flatMap((name) => {
  const resolveCollection = (collection: YAMLMap.Parsed | YAMLSeq.Parsed) =>
    longForm(name, collection.toJSON());
  return [
    { tag: `!${name}`, resolve: (value: string) => longForm(name, value) },
    { tag: `!${name}`, collection: "seq" as const, resolve: resolveCollection },
    { tag: `!${name}`, collection: "map" as const, resolve: resolveCollection },
  ];
});

export function parseCloudFormation(source: string): JsonObject {
  return parse(source, { customTags: cloudFormationTags, prettyErrors: true, strict: true }) as JsonObject;
}

export function loadCloudFormation(path: string): JsonObject {
  return parseCloudFormation(readFileSync(path, "utf8"));
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every node of a JSON tree with the path leading to it, parents before children. */
export function* walk(value: Json, path: string[] = []): Generator<{ value: Json; path: string[] }> {
  yield { value, path };
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) yield* walk(item, [...path, String(index)]);
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) yield* walk(item, [...path, key]);
  }
}

/** `${Name}` and `${Name.Attribute}` references of an Fn::Sub string; `${!Literal}` is an escape, not a reference. */
export function subReferences(template: string): string[] {
  return [...template.matchAll(/\$\{([^}!][^}]*)\}/g)].map((match) => (match[1] as string).trim());
}

/** The string an Fn::Sub node holds, whichever of its two forms it uses. */
export function subString(node: Json): string | undefined {
  if (!isObject(node) || !("Fn::Sub" in node)) return undefined;
  const sub = node["Fn::Sub"];
  if (typeof sub === "string") return sub;
  return Array.isArray(sub) && typeof sub[0] === "string" ? sub[0] : undefined;
}
