//! Full-text search over cached messages (FTS5).
//!
//! What the user types never reaches FTS5 as query syntax: it is cut into
//! words, each word becomes a quoted string (quotes doubled), so `OR`,
//! `NEAR`, `*`, `"`, `(` and column filters are just text.

use super::CacheError;
use super::model::{
    SearchCursor, SearchHit, SearchOrder, SearchPage, SearchPosition, SearchRequest, SnippetPart,
};
use crate::protocol::{ConversationId, MessageId, UserId};
use rusqlite::{Connection, params};
use uuid::Uuid;

/// Snippet markers: private-use characters a message is very unlikely to
/// hold, turned into [`SnippetPart`]s before the UI sees them.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// A message's time: the server's once sent, this device's while pending.
const TIME: &str = "coalesce(m.sent_at_ms, m.created_at_ms)";
/// Tokens of context around the matches.
const SNIPPET_TOKENS: u32 = 12;

/// The FTS5 query for what the user typed, or `None` when it has no word
/// to look for. Every word must occur; the last one may be a prefix.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    // unicode61 splits on everything that is not a letter or digit, so a
    // "word" with neither would be an empty phrase (and `""*` an error).
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let (last, rest) = words.split_last()?;
    let quote = |w: &str| format!("\"{}\"", w.replace('"', "\"\""));
    let mut query: Vec<String> = rest.iter().map(|w| quote(w)).collect();
    query.push(format!("{}*", quote(last)));
    Some(query.join(" "))
}

fn parse_snippet(marked: &str) -> Vec<SnippetPart> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut highlighted = false;
    for c in marked.chars() {
        let toggle = match c {
            OPEN => !highlighted,
            CLOSE => highlighted,
            _ => false,
        };
        if toggle {
            if !text.is_empty() {
                parts.push(SnippetPart {
                    text: std::mem::take(&mut text),
                    highlighted,
                });
            }
            highlighted = !highlighted;
        } else if c != OPEN && c != CLOSE {
            text.push(c);
        }
    }
    if !text.is_empty() {
        parts.push(SnippetPart { text, highlighted });
    }
    parts
}

/// One query per page, written so that FTS5 itself does the ordering:
/// newest first walks the index's rowids (search keys, in time order)
/// backwards and stops after the page; relevance is FTS5's own `ORDER BY
/// rank` (it ranks every match, which bm25 needs, but makes snippets only
/// for the rows returned).
pub(crate) fn search(conn: &Connection, request: &SearchRequest) -> Result<SearchPage, CacheError> {
    let Some(query) = fts_query(&request.text) else {
        return Ok(SearchPage {
            hits: Vec::new(),
            next: None,
        });
    };
    let limit = i64::from(request.limit.max(1));
    let conversation = request.conversation.map(|c| c.0.as_bytes().to_vec());
    let select = format!(
        "SELECT messages_fts.rowid, m.conversation_id, m.id, m.seq, m.sender, {TIME},
                snippet(messages_fts, 0, char({open}), char({close}), '…', {SNIPPET_TOKENS})
         FROM messages_fts JOIN messages m ON m.search_key = messages_fts.rowid
         WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR m.conversation_id = ?2)",
        open = OPEN as u32,
        close = CLOSE as u32,
    );
    let row = |r: &rusqlite::Row<'_>| {
        Ok((
            r.get::<_, i64>(0)?,
            SearchHit {
                conversation_id: ConversationId(Uuid::from_bytes(r.get(1)?)),
                message_id: MessageId(Uuid::from_bytes(r.get(2)?)),
                seq: r
                    .get::<_, Option<i64>>(3)?
                    .and_then(|s| u64::try_from(s).ok()),
                sender: UserId(Uuid::from_bytes(r.get(4)?)),
                time_ms: r.get(5)?,
                snippet: parse_snippet(&r.get::<_, String>(6)?),
            },
        ))
    };
    let after = request.after.map(|c| c.0);
    let mut hits: Vec<(i64, SearchHit)> = match request.order {
        SearchOrder::Newest => {
            let below = match after {
                Some(SearchPosition::Newest { below_key }) => below_key,
                _ => i64::MAX,
            };
            conn.prepare_cached(&format!(
                "{select} AND messages_fts.rowid < ?3
                 ORDER BY messages_fts.rowid DESC LIMIT ?4"
            ))?
            .query_map(params![query, conversation, below, limit + 1], row)?
            .collect::<Result<_, _>>()?
        }
        SearchOrder::Relevance => {
            let offset = match after {
                Some(SearchPosition::Relevance { offset }) => {
                    i64::try_from(offset).unwrap_or(i64::MAX)
                }
                _ => 0,
            };
            conn.prepare_cached(&format!(
                "{select} ORDER BY messages_fts.rank LIMIT ?3 OFFSET ?4"
            ))?
            .query_map(params![query, conversation, limit + 1, offset], row)?
            .collect::<Result<_, _>>()?
        }
    };
    // One extra hit was read to know whether there is a next page.
    let more = hits.len() as i64 > limit;
    hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = match (more, hits.last()) {
        (true, Some(&(below_key, _))) if request.order == SearchOrder::Newest => {
            Some(SearchCursor(SearchPosition::Newest { below_key }))
        }
        (true, Some(_)) => {
            let before = match after {
                Some(SearchPosition::Relevance { offset }) => offset,
                _ => 0,
            };
            Some(SearchCursor(SearchPosition::Relevance {
                offset: before + hits.len() as u64,
            }))
        }
        _ => None,
    };
    Ok(SearchPage {
        hits: hits.into_iter().map(|(_, h)| h).collect(),
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_quoted_words_with_a_prefix_last() {
        assert_eq!(
            fts_query("blood pressure").unwrap(),
            r#""blood" "pressure"*"#
        );
        assert_eq!(fts_query(r#"say "hi"#).unwrap(), r#""say" """hi"*"#);
        assert_eq!(fts_query("a OR (b").unwrap(), r#""a" "OR" "(b"*"#);
        assert_eq!(fts_query(r#"" * ( "#), None);
        assert_eq!(fts_query("   "), None);
    }

    #[test]
    fn snippets_split_at_the_markers() {
        let parts = parse_snippet(&format!("take {OPEN}aspirin{CLOSE} daily"));
        assert_eq!(
            parts,
            [
                SnippetPart {
                    text: "take ".into(),
                    highlighted: false
                },
                SnippetPart {
                    text: "aspirin".into(),
                    highlighted: true
                },
                SnippetPart {
                    text: " daily".into(),
                    highlighted: false
                },
            ]
        );
    }
}
