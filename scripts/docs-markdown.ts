// Prepares a copy of the OpenAPI document for the Redoc page: Redoc renders descriptions as
// Markdown, where a literal placeholder such as `origin/<branch>` would be taken for an HTML tag
// and dropped, so every `<`, `>` and `&` outside code spans is escaped.

/** Escapes HTML-significant characters of `md` outside backtick code spans. */
export function escapeMarkdownHtml(md: string): string {
  return md
    .split(/(`+[^`]*`+)/)
    .map((part, i) => (i % 2 ? part : part.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('');
}

/** A deep copy of `doc` with every `description` escaped for Markdown rendering. */
export function escapeDescriptions<T>(doc: T): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'description' && typeof x === 'string' ? escapeMarkdownHtml(x) : walk(x)]));
  };
  return walk(doc) as T;
}
