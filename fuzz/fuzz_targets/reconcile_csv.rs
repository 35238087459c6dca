//! Reading CSV inputs for reconciliation: any bytes given as a file load or
//! are refused with a located error — never a panic — and the hash mode and
//! the streaming mode agree on whatever loads (when the rows happen to be
//! sorted) or the streaming mode reports the line out of order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seamwork::reconcile::{CsvStream, DiffOptions, DiffSpec, Table, diff_sorted, diff_tables};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (left, right) = text.split_once('\u{0}').unwrap_or((&text, "k,v\n"));
    let spec = DiffSpec::new(["k"]);
    let tables = (
        Table::from_csv("l.csv", left.to_string(), &spec),
        Table::from_csv("r.csv", right.to_string(), &spec),
    );
    let (Ok(l), Ok(r)) = tables else { return };
    for p in l.problems().iter().chain(r.problems()) {
        assert!(p.line >= 1);
    }
    let hashed = diff_tables(&l, &r, &spec, &DiffOptions::default().with_threads(2));
    let streams = (
        CsvStream::new("l.csv", left.as_bytes(), &spec.key),
        CsvStream::new("r.csv", right.as_bytes(), &spec.key),
    );
    if let (Ok(hashed), (Ok(ls), Ok(rs))) = (hashed, streams) {
        match diff_sorted(ls, rs, &spec) {
            Ok(streamed) => {
                assert_eq!(hashed.differences, streamed.differences);
                assert_eq!(hashed.summary, streamed.summary);
            }
            Err(e) => assert!(e.context().line.is_some()),
        }
    }
});
