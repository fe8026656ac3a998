import assert from "node:assert/strict";
import { CODEC_IDS, codecById, createCodec, resolveCodec } from "../shm/codec.ts";
import { MessageCorruptError } from "../primitives/errors.ts";

Deno.test("codecs: round trips", () => {
  const bytes = createCodec("bytes");
  const source = new Uint8Array([1, 2, 3]);
  const decoded = bytes.decode(bytes.encode(source));
  assert.deepEqual(decoded, source);
  assert.notEqual(decoded.buffer, source.buffer, "decode copies");

  const string = createCodec("string");
  for (const s of ["", "ascii", "héllo ✓ 𝄞", "x".repeat(10_000)]) {
    assert.equal(string.decode(string.encode(s).slice()), s);
  }

  const json = createCodec("json");
  const value = { id: 1, name: "ticket", ok: true, list: [1, null, "s"] };
  assert.deepEqual(json.decode(json.encode(value).slice()), value);

  const structured = createCodec("structured");
  const rich = {
    m: new Map([[1, "a"]]),
    s: new Set([2]),
    d: new Date(5),
    b: 7n,
    u: undefined,
    t: new Float64Array([1.5]),
  };
  assert.deepEqual(structured.decode(structured.encode(rich)), rich);

  const number = createCodec("number");
  for (const n of [0, -0, 1.5, -(2 ** 53), NaN, Infinity]) {
    assert.ok(Object.is(number.decode(number.encode(n).slice()), n));
  }
});

Deno.test("codecs: decode reads from a view of shared memory", () => {
  const sab = new SharedArrayBuffer(64);
  const view = new Uint8Array(sab);
  const json = createCodec("json");
  const encoded = json.encode({ a: 1 });
  view.set(encoded, 3);
  assert.deepEqual(json.decode(view.subarray(3, 3 + encoded.length)), { a: 1 });
  const structured = createCodec("structured");
  const s = structured.encode([1, "two"]);
  view.set(s, 10);
  assert.deepEqual(structured.decode(view.subarray(10, 10 + s.length)), [1, "two"]);
});

Deno.test("codecs: values a codec cannot carry are a TypeError at encode", () => {
  assert.throws(() => createCodec("bytes").encode("s" as unknown as Uint8Array), TypeError);
  assert.throws(() => createCodec("string").encode(1 as unknown as string), TypeError);
  for (const lone of ["a\uD800b", "\uDC00", "x\uD83D"]) {
    assert.throws(() => createCodec("string").encode(lone), TypeError, "a lone surrogate");
    const json = createCodec("json");
    assert.equal(json.decode(json.encode(lone)), lone, "json carries it exactly");
  }
  assert.equal(createCodec("string").decode(createCodec("string").encode("a😀b")), "a😀b");
  assert.throws(() => createCodec("number").encode("1" as unknown as number), TypeError);
  assert.throws(() => createCodec("json").encode(undefined), TypeError);
  assert.throws(() => createCodec("json").encode(() => 1), TypeError);
  assert.throws(() => createCodec("json").encode(1n), TypeError);
  assert.throws(() => createCodec("structured").encode(() => 1), TypeError);
  assert.throws(() => createCodec("structured").encode(Symbol("s")), TypeError);
  assert.throws(() => createCodec("nope" as "json"), TypeError);
});

Deno.test("codecs: malformed bytes are MessageCorruptError, never a wrong value", () => {
  const bad = new Uint8Array([0xff, 0xfe, 0x00]);
  assert.throws(() => createCodec("string").decode(bad), MessageCorruptError);
  assert.throws(() => createCodec("json").decode(bad), MessageCorruptError);
  assert.throws(
    () => createCodec("json").decode(new TextEncoder().encode("{oops")),
    MessageCorruptError,
  );
  assert.throws(() => createCodec("structured").decode(bad), MessageCorruptError);
  assert.throws(() => createCodec("structured").decode(new Uint8Array(0)), MessageCorruptError);
  assert.throws(() => createCodec("number").decode(new Uint8Array(4)), MessageCorruptError);
});

Deno.test("codecs: ids and resolution", () => {
  for (const [name, id] of Object.entries(CODEC_IDS)) assert.equal(codecById(id), name);
  assert.equal(codecById(0), undefined);
  assert.equal(resolveCodec(undefined, "json").id, CODEC_IDS.json);
  const custom = {
    name: "c",
    encode: (v: number) => new Uint8Array([v]),
    decode: (b: Uint8Array) => b[0],
  };
  assert.equal(resolveCodec(custom, "json").id, 0);
  assert.throws(() => resolveCodec({} as never, "json"), TypeError);
});
