// A node:test reporter that prints one line per test, the failure's message under a failed
// test, and closes with the plain summary line "N passed, M failed" (", K skipped").
export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    const data = event.data ?? {};
    const isSuite = data.details?.type === "suite";
    switch (event.type) {
      case "test:pass":
        if (isSuite) break;
        if (data.skip !== undefined || data.todo !== undefined) {
          skipped++;
          yield `skip ${data.name}${typeof data.skip === "string" ? ` (${data.skip})` : ""}\n`;
        } else {
          passed++;
          yield `ok   ${data.name} (${Math.round(data.details?.duration_ms ?? 0)} ms)\n`;
        }
        break;
      case "test:fail": {
        if (isSuite) break;
        failed++;
        const error = data.details?.error;
        const cause = error?.cause ?? error;
        const text = String(cause?.stack ?? cause?.message ?? cause ?? "failed");
        yield `FAIL ${data.name}\n${text.replace(/^/gm, "     ")}\n`;
        break;
      }
      case "test:stdout":
      case "test:stderr":
        yield data.message;
        break;
      case "test:diagnostic":
        if (data.nesting > 0) yield `     ${data.message}\n`;
        break;
      default:
        break;
    }
  }
  yield `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`;
}
