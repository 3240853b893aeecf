//! An incremental parser for server-sent events (the `text/event-stream` format).
//!
//! Network chunks split events anywhere — inside a line, between a CR and its
//! LF, inside a multi-byte character — so the parser keeps the unfinished tail
//! and emits an event only when its blank line has arrived. It follows the
//! WHATWG rules: lines end in CRLF, LF or CR; a line starting with `:` is a
//! comment (servers send them as keep-alives); `data:` lines of one event are
//! joined with newlines; one space after the colon is dropped.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; empty for the default type (`message`).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Feed it bytes as they arrive; take out whole events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line whose end has not arrived yet.
    partial_line: Vec<u8>,
    /// The previous chunk ended in CR: an LF first in the next one belongs to it.
    pending_cr: bool,
    /// The event being gathered.
    event: String,
    data: String,
    has_data: bool,
    /// Whether the stream's first bytes were looked at for a byte order mark.
    started: bool,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Parses the next chunk and returns the events it completed.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.pending_cr {
            self.pending_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = chunk.iter().position(|&byte| byte == b'\n' || byte == b'\r') {
            self.partial_line.extend_from_slice(&chunk[..end]);
            let line = std::mem::take(&mut self.partial_line);
            self.take_line(&line, &mut events);
            let crlf = chunk[end] == b'\r' && chunk.get(end + 1) == Some(&b'\n');
            if chunk[end] == b'\r' && end + 1 == chunk.len() {
                self.pending_cr = true;
            }
            chunk = &chunk[end + if crlf { 2 } else { 1 }..];
        }
        self.partial_line.extend_from_slice(chunk);
        events
    }

    /// Whether the stream ended in the middle of an event (the connection was cut).
    pub fn has_unfinished_event(&self) -> bool {
        self.has_data || !self.partial_line.is_empty()
    }

    fn take_line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        let mut line = line;
        if !self.started {
            self.started = true;
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        if line.is_empty() {
            if self.has_data {
                events.push(SseEvent { event: std::mem::take(&mut self.event), data: std::mem::take(&mut self.data) });
            }
            self.event.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // a comment: a keep-alive
        }
        // Lines split at CR/LF bytes only, which never occur inside a UTF-8
        // sequence, so a line is whole UTF-8 if the stream is.
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = value.to_owned(),
            _ => {} // id and retry: not used by chat-completion streams
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_of(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|event| event.data.as_str()).collect()
    }

    fn parse_whole(stream: &[u8]) -> Vec<SseEvent> {
        SseParser::new().feed(stream)
    }

    #[test]
    fn openai_chunks_and_done() {
        let stream = b"data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n";
        assert_eq!(data_of(&parse_whole(stream)), ["{\"a\":1}", "{\"a\":2}", "[DONE]"]);
    }

    #[test]
    fn comments_and_keep_alives_are_skipped() {
        let stream = b": ping\n\n:\ndata: x\n: still here\n\n";
        assert_eq!(data_of(&parse_whole(stream)), ["x"]);
    }

    #[test]
    fn crlf_and_cr_end_lines_too() {
        assert_eq!(data_of(&parse_whole(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n")), ["a", "b", "c"]);
    }

    #[test]
    fn data_lines_of_one_event_are_joined_with_newlines_and_fields_are_read() {
        let events = parse_whole(b"event: error\ndata: line one\ndata:line two\ndata\n\n");
        assert_eq!(events, [SseEvent { event: "error".into(), data: "line one\nline two\n".into() }]);
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_dropped() {
        assert_eq!(data_of(&parse_whole("\u{feff}data: x\n\n".as_bytes())), ["x"]);
    }

    #[test]
    fn an_event_is_emitted_only_once_its_blank_line_arrives() {
        let mut parser = SseParser::new();
        assert!(parser.feed(b"data: {\"a\"").is_empty());
        assert!(parser.feed(b":1}\n").is_empty());
        assert!(parser.has_unfinished_event());
        assert_eq!(data_of(&parser.feed(b"\n")), ["{\"a\":1}"]);
        assert!(!parser.has_unfinished_event());
    }

    #[test]
    fn every_split_of_a_stream_gives_the_same_events() {
        // CRLF pairs, a multi-byte character and a comment, split at every byte.
        let stream = "data: héllo 🌄\r\n\r\n: keep-alive\r\ndata: a\r\ndata: b\r\n\r\ndata: [DONE]\r\n\r\n".as_bytes();
        let whole = parse_whole(stream);
        assert_eq!(data_of(&whole), ["héllo 🌄", "a\nb", "[DONE]"]);
        for cut in 0..stream.len() {
            let mut parser = SseParser::new();
            let mut events = parser.feed(&stream[..cut]);
            events.extend(parser.feed(&stream[cut..]));
            assert_eq!(events, whole, "split at byte {cut}");
        }
        // And one byte at a time.
        let mut parser = SseParser::new();
        let events: Vec<_> = stream.iter().flat_map(|byte| parser.feed(std::slice::from_ref(byte))).collect();
        assert_eq!(events, whole);
    }
}
