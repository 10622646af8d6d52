import { describe, expect, it } from "vitest";
import { parseFilterValue, parseQueryParams, parseQueryString } from "../../local/rest/query-params.ts";

const STAND_IN = "local/rest.ts serves the table endpoints the widget uses";
const refusal = (parse: () => unknown) => {
  try {
    parse();
  } catch (error) {
    const { status, body } = error as { status: number; body: unknown };
    return { status, body };
  }
  throw new Error("expected a refusal");
};
const notInStandIn = (message: string) => ({ status: 400, body: { code: "PGRST127", details: STAND_IN, hint: null, message: `${message} is not in the local stand-in of PostgREST` } });
const parseError = (message: string, details: string) => ({ status: 400, body: { code: "PGRST100", details, hint: null, message } });
const notEmbedded = (resource: string) => ({ status: 400, body: { code: "PGRST108", details: null, hint: `Verify that '${resource}' is included in the 'select' query parameter.`, message: `'${resource}' is not an embedded resource in this request` } });
const defaults = { select: ["*"], filters: [], order: [], limit: null, offset: null, columns: null };
const FIELD = "expecting field name (* or [a..z0..9_$])";
const ORDER = 'expecting ".asc", ".desc", ".nullsfirst", ".nullslast", "," or end of input';

describe("parseQueryString", () => {
  it("decodes pairs in order, + as space, skips keys without =, and keeps malformed escapes as written", () => {
    expect(parseQueryString("?a=1&b=x%20y+z&&c&d=%E0%A4%A&e=&f=g=h")).toEqual([["a", "1"], ["b", "x y z"], ["d", "%E0%A4%A"], ["e", ""], ["f", "g=h"]]);
    expect(parseQueryString("k%3D=v")).toEqual([["k=", "v"]]);
    expect(parseQueryString("a=what?&=x")).toEqual([["a", "what?"], ["", "x"]]);
  });
});

describe("parseQueryParams", () => {
  it.each([
    [[], defaults],
    [[["select", ""]], defaults],
    [[["select", " id , content "]], { ...defaults, select: ["id", "content"] }],
    [[["select", "*,id"]], { ...defaults, select: ["*", "id"] }],
    [[["columns", '"a","b\\"c"']], { ...defaults, columns: ["a", 'b"c'] }],
    [[["columns", "a, b-c "]], { ...defaults, columns: ["a", "b-c"] }],
    [[["order", "id"]], { ...defaults, order: [{ column: "id", direction: null, nulls: null }] }],
    [[["order", "id.asc"]], { ...defaults, order: [{ column: "id", direction: "asc", nulls: null }] }],
    [[["order", "id.nullslast"]], { ...defaults, order: [{ column: "id", direction: null, nulls: "nullslast" }] }],
    [[["order", "a.desc.nullsfirst , b"]], { ...defaults, order: [{ column: "a", direction: "desc", nulls: "nullsfirst" }, { column: "b", direction: null, nulls: null }] }],
    [[["limit", "10"], ["offset", "15"]], { ...defaults, limit: 10, offset: 15 }],
    [[["select", " "]], defaults],
    [[["order", "a .asc"]], { ...defaults, order: [{ column: "a", direction: "asc", nulls: null }] }],
    [[["columns", "a1,b"]], { ...defaults, columns: ["a1", "b"] }],
    [[["a-1", "eq.1"]], { ...defaults, filters: [{ column: "a-1", negate: false, operation: { op: "eq", value: "1" } }] }],
    [[["limit", "-1"], ["offset", "-2"]], { ...defaults, limit: -1, offset: -2 }],
    [[["limit", "ten"], ["offset", "1.5"]], defaults],
    [[["limit", "1 0"], ["offset", "x5"]], defaults],
    [[[" id ", "eq.1"], ["my-col", "not.is.null"]], { ...defaults, filters: [{ column: "id", negate: false, operation: { op: "eq", value: "1" } }, { column: "my-col", negate: true, operation: { op: "is", value: "null" } }] }],
  ])("reads %j", (pairs, expected) => {
    expect(parseQueryParams(pairs as [string, string][])).toEqual(expected);
  });

  it.each([
    [[["select", "id,author(name)"]], notInStandIn("This select (embedding, casts, aliases, JSON paths, aggregates: 'author(name)')")],
    [[["select", "id::text"]], notInStandIn("This select (embedding, casts, aliases, JSON paths, aggregates: 'id::text')")],
    [[["select", "total:id"]], notInStandIn("This select (embedding, casts, aliases, JSON paths, aggregates: 'total:id')")],
    [[["select", "data->x"]], notInStandIn("This select (embedding, casts, aliases, JSON paths, aggregates: 'data->x')")],
    [[["select", "!inner"]], notInStandIn("This select (embedding, casts, aliases, JSON paths, aggregates: '!inner')")],
    [[["select", "...x"]], notInStandIn("This select (embedding, casts, aliases, JSON paths, aggregates: '...x')")],
    [[["select", '"id"']], notInStandIn("A quoted column name")],
    [[["select", "c%d"]], parseError('"failed to parse select parameter (c%d)" (line 1, column 1)', `unexpected "c" ${FIELD}`)],
    [[["select", "id,c%d"]], parseError('"failed to parse select parameter (id,c%d)" (line 1, column 4)', `unexpected "c" ${FIELD}`)],
    [[["select", "ab,cd,e%"]], parseError('"failed to parse select parameter (ab,cd,e%)" (line 1, column 7)', `unexpected "e" ${FIELD}`)],
    [[["select", "id,,x"]], parseError('"failed to parse select parameter (id,,x)" (line 1, column 4)', `unexpected "end of input" ${FIELD}`)],
    [[["columns", ""]], parseError('"failed to parse columns parameter ()" (line 1, column 1)', FIELD)],
    [[["on_conflict", "id"]], notInStandIn("on_conflict (upsert)")],
    [[["author.order", "id"]], notEmbedded("author")],
    [[["author.limit", "1"]], notEmbedded("author")],
    [[["or", "(a.eq.1)"]], notInStandIn("The 'or' logic filter")],
    [[["and", "(a.eq.1)"]], notInStandIn("The 'and' logic filter")],
    [[["or", "5"]], notInStandIn("The 'or' logic filter")],
    [[['a"', "eq.1"]], parseError('"failed to parse tree path (a")" (line 1, column 1)', `unexpected "a" ${FIELD}`)],
    [[["a.b%", "eq.1"]], parseError('"failed to parse tree path (a.b%)" (line 1, column 1)', `unexpected "a" ${FIELD}`)],
    [[["select", "a...b"]], parseError('"failed to parse select parameter (a...b)" (line 1, column 1)', `unexpected "a" ${FIELD}`)],
    [[["select", 'a"']], parseError('"failed to parse select parameter (a")" (line 1, column 1)', `unexpected "a" ${FIELD}`)],
    [[["order", "id.up"]], parseError('"failed to parse order (id.up)" (line 1, column 1)', `unexpected "up" ${ORDER}`)],
    [[["order", "id.asc.desc"]], parseError('"failed to parse order (id.asc.desc)" (line 1, column 1)', `unexpected "desc" ${ORDER}`)],
    [[["order", "id.nullsfirst.asc"]], parseError('"failed to parse order (id.nullsfirst.asc)" (line 1, column 1)', `unexpected "asc" ${ORDER}`)],
    [[["order", "a%b"]], parseError('"failed to parse order (a%b)" (line 1, column 1)', `unexpected "a%b" ${ORDER}`)],
    [[["order", "data->x"]], notInStandIn("Ordering by a JSON path")],
    [[["order", "author(name)"]], notInStandIn("Ordering by an embedded resource")],
    [[["a->b", "eq.1"]], notInStandIn("Filtering on a JSON path")],
    [[['"a"', "eq.1"]], notInStandIn("A quoted column name")],
    [[["a.b", "eq.1"]], notEmbedded("a")],
    [[["a%", "eq.1"]], parseError('"failed to parse tree path (a%)" (line 1, column 1)', `unexpected "a" ${FIELD}`)],
    [[["a-", "eq.1"]], parseError('"failed to parse tree path (a-)" (line 1, column 1)', `unexpected "a" ${FIELD}`)],
    [[["", "eq.1"]], parseError('"failed to parse tree path ()" (line 1, column 1)', `unexpected "" ${FIELD}`)],
  ])("refuses %j as PostgREST does, or as not in the stand-in", (pairs, expected) => {
    expect(refusal(() => parseQueryParams(pairs as [string, string][]))).toEqual(expected);
  });
});

it("refuses a columns list with something after its names", () => {
  expect(refusal(() => parseQueryParams([["columns", "a,%"]]))).toMatchObject({ status: 400, body: { code: "PGRST100", message: '"failed to parse columns parameter (a,%)" (line 1, column 1)' } });
});

describe("parseFilterValue", () => {
  it.each([
    ["eq.1", false, { op: "eq", value: "1" }],
    ["not.eq.1", true, { op: "eq", value: "1" }],
    ["neq.a.b", false, { op: "neq", value: "a.b" }],
    ["gt.", false, { op: "gt", value: "" }],
    ["gte.2", false, { op: "gte", value: "2" }],
    ["lt.3", false, { op: "lt", value: "3" }],
    ["lte.4", false, { op: "lte", value: "4" }],
    ["like.a*", false, { op: "like", value: "a*" }],
    ["ilike.a*", false, { op: "ilike", value: "a*" }],
    ["match.^a", false, { op: "match", value: "^a" }],
    ["imatch.^a", false, { op: "imatch", value: "^a" }],
    ["isdistinct.x", false, { op: "isdistinct", value: "x" }],
    ["in.(a,b)", false, { op: "in", values: ["a", "b"] }],
    ['in.("b,c","d\\"e")', false, { op: "in", values: ["b,c", 'd"e'] }],
    ["in.  (x)", false, { op: "in", values: ["x"] }],
    ["in.(x)ignored", false, { op: "in", values: ["x"] }],
    ["in.(a b)", false, { op: "in", values: ["a b"] }],
    ['in.(x"q",y)', false, { op: "in", values: ['x"q"', "y"] }],
    ['in.("q"x)', false, { op: "in", values: ['"q"x'] }],
    ["in.()", false, { op: "in", values: [""] }],
    ["not.in.(1)", true, { op: "in", values: ["1"] }],
    ["is.NULL", false, { op: "is", value: "null" }],
    ["is.not_null", false, { op: "is", value: "not_null" }],
    ["is.true", false, { op: "is", value: "true" }],
    ["is.False", false, { op: "is", value: "false" }],
    ["is.unknownX", false, { op: "is", value: "unknown" }],
  ])("reads %s", (text, negate, operation) => {
    expect(parseFilterValue(text)).toEqual({ negate, operation });
  });

  it.each<[string, { status: number; body: unknown }]>([
    ["in.(a", parseError('"failed to parse filter (in.(a)" (line 1, column 6)', 'unexpected end of input expecting "," or ")"')],
    ["not.in.(a,b", parseError('"failed to parse filter (not.in.(a,b)" (line 1, column 12)', 'unexpected end of input expecting "," or ")"')],
    ["in.x", parseError('"failed to parse filter (in.x)" (line 1, column 4)', 'unexpected "x" expecting "("')],
    ["in.", parseError('"failed to parse filter (in.)" (line 1, column 4)', 'unexpected "end of input" expecting "("')],
    ["is.maybe", parseError('"failed to parse filter (is.maybe)" (line 1, column 4)', 'unexpected "m" expecting isVal: (null, not_null, true, false, unknown)')],
    ["not.is.", parseError('"failed to parse filter (not.is.)" (line 1, column 8)', 'unexpected "end of input" expecting isVal: (null, not_null, true, false, unknown)')],
    ["eq", parseError('"failed to parse filter (eq)" (line 1, column 1)', 'unexpected "e" expecting "not" or operator (eq, gt, ...)')],
    ["not.eq", parseError('"failed to parse filter (not.eq)" (line 1, column 5)', 'unexpected "e" expecting operator (eq, gt, ...)')],
    ["not.", parseError('"failed to parse filter (not.)" (line 1, column 5)', 'unexpected "end of input" expecting operator (eq, gt, ...)')],
    ["", parseError('"failed to parse filter ()" (line 1, column 1)', 'unexpected "end of input" expecting "not" or operator (eq, gt, ...)')],
    ["foo.1", parseError('"failed to parse filter (foo.1)" (line 1, column 1)', 'unexpected "f" expecting "not" or operator (eq, gt, ...)')],
    ["not.foo.1", parseError('"failed to parse filter (not.foo.1)" (line 1, column 5)', 'unexpected "f" expecting operator (eq, gt, ...)')],
    ["eqx.1", parseError('"failed to parse filter (eqx.1)" (line 1, column 1)', 'unexpected "e" expecting "not" or operator (eq, gt, ...)')],
    ...["cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj", "fts", "plfts", "phfts", "wfts"].map((op): [string, { status: number; body: unknown }] => [`${op}.x`, notInStandIn(`The '${op}' filter operator`)]),
    ...["eq(any)", "gte(all)", "gt(any)", "lte(any)", "lt(all)", "like(any)", "ilike(all)", "match(any)", "imatch(all)"].map((op): [string, { status: number; body: unknown }] => [`${op}.{1}`, notInStandIn("A quantified filter (any/all)")]),
    ["neq(any).{1}", parseError('"failed to parse filter (neq(any).{1})" (line 1, column 1)', 'unexpected "n" expecting "not" or operator (eq, gt, ...)')],
    ["eq(some).{1}", parseError('"failed to parse filter (eq(some).{1})" (line 1, column 1)', 'unexpected "e" expecting "not" or operator (eq, gt, ...)')],
    ["fts(english).x", notInStandIn("Full text search")],
    ["eq(any)x.1", parseError('"failed to parse filter (eq(any)x.1)" (line 1, column 1)', 'unexpected "e" expecting "not" or operator (eq, gt, ...)')],
    ["xfts(a).1", parseError('"failed to parse filter (xfts(a).1)" (line 1, column 1)', 'unexpected "x" expecting "not" or operator (eq, gt, ...)')],
    ["wfts(english).x", notInStandIn("Full text search")],
  ])("refuses %s", (text, expected) => {
    expect(refusal(() => parseFilterValue(text))).toEqual(expected);
  });
});

it("refuses a columns list that ends with a comma, as PostgREST's sepBy1 does", () => {
  expect(refusal(() => parseQueryParams([["columns", "a,"]]))).toMatchObject({ status: 400, body: { code: "PGRST100" } });
});
