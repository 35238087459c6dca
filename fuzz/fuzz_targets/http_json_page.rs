//! HTTP JSON answers: `parse_page` (records pointer + every pagination
//! strategy) and `next_link` never panic on arbitrary bodies, `Link` headers
//! and pointers, and a next page is never the page just read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::adapters::http_json::{Pagination, Url, next_link, parse_page};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    // Layout: <choice byte><Link header>\n<records pointer>\n<body>
    let mut parts = rest.splitn(3, |b| *b == b'\n');
    let link = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let pointer = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();

    let _ = next_link(&link);
    let pagination = match choice % 5 {
        0 => Pagination::None,
        1 => Pagination::cursor("cursor", pointer.as_ref()),
        2 => Pagination::page_number("page", "per_page", usize::from(choice % 7)),
        3 => Pagination::offset("offset", "limit", usize::from(choice % 7)),
        _ => Pagination::LinkHeader,
    };
    let records = if choice & 0x80 == 0 { "" } else { pointer.as_ref() };
    let base = Url::parse("https://wms.example.com/api/stock?page=18446744073709551615&offset=3")
        .expect("a valid URL");
    let url = pagination.first_page(&base);
    if let Ok(page) = parse_page(&url, body, Some(&link), records, &pagination)
        && let Some(next) = page.next
        && !matches!(pagination, Pagination::LinkHeader | Pagination::Cursor { .. })
    {
        assert_ne!(next, url, "page/offset paging must advance");
    }
});
