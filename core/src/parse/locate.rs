//! Finds the line of a field inside a block-style YAML document from its path
//! (`["spec", "http", "1", "match"]`; numbers index lists). serde_yaml keeps no positions for
//! values, so messages that point at a field use this. It reads indentation only; for flow
//! style (`{a: b}`) it stops at the deepest part it can find.

/// Zero-based line offset within `doc` of the field at `path`, or None.
pub fn locate(doc: &str, path: &[&str]) -> Option<usize> {
    walk(doc, path, false).0
}

/// Zero-based line offset within `doc` of the field at `path`, or of the deepest part of the
/// path found when the rest is not in block style (`port: {numbr: 80}` gives `port`'s line);
/// None when not even the first part is found.
pub fn locate_nearest(doc: &str, path: &[&str]) -> Option<usize> {
    let mut path = path;
    while !path.is_empty() {
        if let Some(line) = locate(doc, path) {
            return Some(line);
        }
        path = &path[..path.len() - 1];
    }
    None
}

/// Zero-based line offsets of every item of the list at `list`, in one pass: item `i` is at
/// `locate(doc, list + [i])`.
pub fn locate_items(doc: &str, list: &[&str]) -> Vec<usize> {
    let mut path = list.to_vec();
    path.push("0");
    walk(doc, &path, true).1
}

/// Follows `path`; with `items`, stops at its last segment (a list index) and returns the
/// lines of all the items of that list instead.
fn walk(doc: &str, path: &[&str], items_of_last: bool) -> (Option<usize>, Vec<usize>) {
    let none = (None, Vec::new());
    let lines = Line::all(doc);
    let mut lo = 0usize; // first line of the current block
    let mut hi = lines.len(); // one past its last line
    let mut min_indent = 0usize; // keys of the current block sit at or beyond this column
    let mut found: Option<usize> = None;
    for (depth, seg) in path.iter().enumerate() {
        if let Ok(idx) = seg.parse::<usize>() {
            // The idx-th item '- ' of a list, at the shallowest list indent in the block.
            let mut items = Vec::new();
            let mut item_indent = None;
            for (n, l) in lines.iter().enumerate().take(hi).skip(lo) {
                let (t, ind) = (l.text, l.indent);
                if l.blank() {
                    continue;
                }
                if ind < min_indent {
                    break;
                }
                if t.starts_with("- ") || t == "-" {
                    match item_indent {
                        None => {
                            item_indent = Some(ind);
                            items.push(n);
                        }
                        Some(ii) if ii == ind => items.push(n),
                        _ => {}
                    }
                }
            }
            if items_of_last && depth + 1 == path.len() {
                return (None, items);
            }
            let Some(ii) = item_indent else {
                return none;
            };
            let Some(&start) = items.get(idx) else {
                return none;
            };
            let end = items.get(idx + 1).copied().unwrap_or_else(|| {
                // The list ends at the first line indented less than its items.
                lines
                    .iter()
                    .enumerate()
                    .take(hi)
                    .skip(start + 1)
                    .find(|(_, l)| !l.blank() && l.indent < ii)
                    .map(|(n, _)| n)
                    .unwrap_or(hi)
            });
            found = Some(start);
            lo = start;
            hi = end;
            min_indent = ii + 2;
        } else {
            let key = format!("{seg}:");
            let mut hit = None;
            // The block's keys all sit in the column of its first one; a key of the same
            // name deeper down belongs to a child.
            let mut column = None;
            for (n, l) in lines.iter().enumerate().take(hi).skip(lo) {
                let t = l.text;
                let (t, ind) = match t.strip_prefix("- ") {
                    Some(rest) => {
                        let rest = rest.trim_start();
                        (rest, l.indent + (t.len() - rest.len()))
                    }
                    None => (t, l.indent),
                };
                if l.blank() || (ind < min_indent && !(n == lo && found.is_some())) {
                    continue;
                }
                if *column.get_or_insert(ind) != ind {
                    continue;
                }
                let unquoted = t.trim_start_matches(['"', '\'']);
                if t.starts_with(&key)
                    || (unquoted.starts_with(*seg)
                        && unquoted[seg.len()..]
                            .trim_start_matches(['"', '\''])
                            .starts_with(':'))
                {
                    hit = Some((n, ind));
                    break;
                }
            }
            let Some((n, ind)) = hit else {
                return none;
            };
            let end = lines
                .iter()
                .enumerate()
                .take(hi)
                .skip(n + 1)
                .find(|(_, l)| {
                    !l.blank() && (l.indent < ind || (l.indent == ind && !l.text.starts_with("- ")))
                })
                .map(|(m, _)| m)
                .unwrap_or(hi);
            found = Some(n);
            lo = n + 1;
            hi = end;
            min_indent = ind;
        }
    }
    (found, Vec::new())
}

/// A line with its indentation measured once: the walk looks at each line several times.
struct Line<'a> {
    /// The line without its leading whitespace.
    text: &'a str,
    /// How many bytes of leading whitespace it has.
    indent: usize,
}

impl<'a> Line<'a> {
    /// The lines of `doc`, as `str::lines` cuts them (a loader reads every VirtualService's
    /// routes this way, so the cut is a plain scan for line feeds).
    fn all(doc: &'a str) -> Vec<Line<'a>> {
        let mut out = Vec::with_capacity(doc.len() / 24 + 1);
        let mut rest = doc;
        while !rest.is_empty() {
            let (line, next) = match rest.as_bytes().iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let line = &rest[..i];
                    (line.strip_suffix('\r').unwrap_or(line), &rest[i + 1..])
                }
                None => (rest, ""),
            };
            out.push(Line::new(line));
            rest = next;
        }
        out
    }

    fn new(line: &'a str) -> Line<'a> {
        // Indentation is spaces; anything else goes through the general trim.
        let spaces = line.bytes().take_while(|&b| b == b' ').count();
        let text = match line.as_bytes().get(spaces) {
            Some(b) if b.is_ascii_whitespace() || !b.is_ascii() => line.trim_start(),
            _ => &line[spaces..],
        };
        Line {
            text,
            indent: line.len() - text.len(),
        }
    }

    /// Empty or a comment.
    fn blank(&self) -> bool {
        self.text.is_empty() || self.text.starts_with('#')
    }
}

#[cfg(test)]
mod tests {
    use super::{locate, locate_items, locate_nearest};

    const VS: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: x
spec:
  hosts:
  - a
  http:
  - match:
    - uri:
        prefix: /a
    route:
    - destination:
        host: a
  - match:
    - uri:
        regex: '[a'
    route:
    - destination: {host: b}
";

    /// `headers` of an HTTP route is not the `headers` of one of its matches, written first
    /// and deeper.
    #[test]
    fn a_key_is_found_in_its_block_s_column_only() {
        let doc = "spec:
  http:
  - match:
    - headers:
        x: {exact: a}
    headers:
      request: {set: {y: b}}
";
        assert_eq!(locate(doc, &["spec", "http", "0", "headers"]), Some(5));
        assert_eq!(
            locate(doc, &["spec", "http", "0", "match", "0", "headers"]),
            Some(3)
        );
        assert_eq!(
            locate(doc, &["spec", "http", "0", "headers", "request"]),
            Some(6)
        );
        assert_eq!(locate(doc, &["spec", "x"]), None, "x is a match's header");
    }

    #[test]
    fn nearest_stops_where_flow_style_starts() {
        let path = ["spec", "http", "1", "route", "0", "destination", "hots"];
        assert_eq!(locate(VS, &path), None);
        assert_eq!(
            locate_nearest(VS, &path),
            Some(18),
            "the `- destination: {{...}}` line"
        );
        assert_eq!(
            locate_nearest(VS, &["spec", "hosts"]),
            locate(VS, &["spec", "hosts"])
        );
        assert_eq!(locate_nearest(VS, &["nothing", "here"]), None);
    }

    #[test]
    fn finds_nested_list_items_and_keys() {
        assert_eq!(locate(VS, &["spec"]), Some(4));
        assert_eq!(locate(VS, &["spec", "http"]), Some(7));
        assert_eq!(locate(VS, &["spec", "http", "0"]), Some(8));
        assert_eq!(locate(VS, &["spec", "http", "1"]), Some(14));
        assert_eq!(
            locate(VS, &["spec", "http", "1", "match", "0", "uri"]),
            Some(15)
        );
        assert_eq!(locate(VS, &["spec", "http", "1", "route"]), Some(17));
    }

    #[test]
    fn all_items_of_a_list_in_one_pass() {
        assert_eq!(locate_items(VS, &["spec", "http"]), vec![8, 14]);
        assert_eq!(locate_items(VS, &["spec", "tcp"]), Vec::<usize>::new());
        assert_eq!(locate_items(VS, &["spec", "http", "0", "route"]), vec![12]);
    }

    proptest::proptest! {
        #[test]
        fn lines_are_cut_as_str_lines_cuts_them(doc in "[ a-c:#\\-\t\r\n\u{a0}]{0,40}") {
            let ours: Vec<(&str, usize)> =
                super::Line::all(&doc).iter().map(|l| (l.text, l.indent)).collect();
            let std: Vec<(&str, usize)> = doc
                .lines()
                .map(|l| (l.trim_start(), l.len() - l.trim_start().len()))
                .collect();
            proptest::prop_assert_eq!(ours, std);
        }
    }

    #[test]
    fn missing_paths_give_none() {
        assert_eq!(locate(VS, &["spec", "tcp"]), None);
        assert_eq!(locate(VS, &["spec", "http", "2"]), None);
    }
}
