//! The keyed diff: classification, summary, and the hash mode over [`Table`]s.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::spec::{DiffSpec, Rule};
use super::table::{BUCKETS, Entry, Problem, Table};
use crate::error::{Error, Result};

/// How a key differs between the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// The key exists only on the left.
    OnlyLeft,
    /// The key exists only on the right.
    OnlyRight,
    /// Both sides have the key and at least one compared field differs.
    Mismatch,
}

impl DiffKind {
    /// The snake_case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            DiffKind::OnlyLeft => "only_left",
            DiffKind::OnlyRight => "only_right",
            DiffKind::Mismatch => "mismatch",
        }
    }
}

/// One differing field of a mismatched key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldDelta {
    /// The column.
    pub field: String,
    /// The left value as read.
    pub left: String,
    /// The right value as read.
    pub right: String,
    /// `right − left` when both are numbers.
    pub delta: Option<Decimal>,
}

/// One key that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Difference {
    /// The key's parts, in the spec's key order.
    pub key: Vec<String>,
    /// Only left, only right or mismatch.
    pub kind: DiffKind,
    /// The left record's line (file inputs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_line: Option<u64>,
    /// The right record's line (file inputs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_line: Option<u64>,
    /// The value of the spec's dimension (the left row's when both exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    /// For mismatches, every differing field in column order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDelta>,
}

/// Counts of one group of keys by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassCounts {
    /// Keys on both sides that agree.
    pub matched: u64,
    /// Keys only on the left.
    pub only_left: u64,
    /// Keys only on the right.
    pub only_right: u64,
    /// Keys on both sides that differ.
    pub mismatched: u64,
}

impl ClassCounts {
    fn add(&mut self, o: &ClassCounts) {
        self.matched += o.matched;
        self.only_left += o.only_left;
        self.only_right += o.only_right;
        self.mismatched += o.mismatched;
    }

    fn bump(&mut self, kind: Option<DiffKind>) {
        match kind {
            None => self.matched += 1,
            Some(DiffKind::OnlyLeft) => self.only_left += 1,
            Some(DiffKind::OnlyRight) => self.only_right += 1,
            Some(DiffKind::Mismatch) => self.mismatched += 1,
        }
    }
}

/// The counts of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Left rows taken into the diff (malformed and duplicate rows are in `rejected_rows`).
    pub left_rows: u64,
    /// Right rows taken into the diff.
    pub right_rows: u64,
    /// Keys on both sides that agree.
    pub matched: u64,
    /// Keys only on the left.
    pub only_left: u64,
    /// Keys only on the right.
    pub only_right: u64,
    /// Keys on both sides that differ.
    pub mismatched: u64,
    /// Rows of either side reported as problems and left out.
    pub rejected_rows: u64,
    /// Mismatched keys per differing field.
    pub by_field: BTreeMap<String, u64>,
    /// Counts per value of the spec's dimension (empty without one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_dimension: BTreeMap<String, ClassCounts>,
}

impl Summary {
    /// Keys that differ in any way.
    pub fn differences(&self) -> u64 {
        self.only_left + self.only_right + self.mismatched
    }

    /// The headline counts with their names, in report order.
    pub fn counts(&self) -> [(&'static str, u64); 7] {
        [
            ("left rows", self.left_rows),
            ("right rows", self.right_rows),
            ("matched", self.matched),
            ("only left", self.only_left),
            ("only right", self.only_right),
            ("mismatched", self.mismatched),
            ("rejected rows", self.rejected_rows),
        ]
    }

    /// Mismatched keys per field, most first.
    pub fn fields_by_count(&self) -> Vec<(&str, u64)> {
        let mut by: Vec<(&str, u64)> = self
            .by_field
            .iter()
            .map(|(f, n)| (f.as_str(), *n))
            .collect();
        by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        by
    }

    /// The counts as [`ClassCounts`].
    pub fn classes(&self) -> ClassCounts {
        ClassCounts {
            matched: self.matched,
            only_left: self.only_left,
            only_right: self.only_right,
            mismatched: self.mismatched,
        }
    }
}

/// The result of a diff: summary, differences ordered by key, problems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffReport {
    /// The left input's name (file path, or `left <entity>`).
    pub left: String,
    /// The right input's name.
    pub right: String,
    /// The key columns, naming the parts of every [`Difference::key`].
    pub key_columns: Vec<String>,
    /// Counts.
    pub summary: Summary,
    /// Every differing key, ordered by key.
    pub differences: Vec<Difference>,
    /// Rows that could not be used and columns only one side has.
    pub problems: Vec<Problem>,
}

/// How the hash mode runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiffOptions {
    /// Threads classifying rows (each takes a range of key hashes); at least 1.
    pub threads: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl DiffOptions {
    /// Sets the number of threads (at least 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }
}

/// One compared column: where it is on each side and its rule.
#[derive(Debug, Clone)]
pub(crate) struct PlanField {
    pub(crate) name: String,
    left: usize,
    right: usize,
    rule: Rule,
}

/// The spec resolved against both headers.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    key: Vec<(usize, usize)>,
    pub(crate) fields: Vec<PlanField>,
    pub(crate) dimension: Option<(Option<usize>, Option<usize>)>,
}

impl Plan {
    /// Resolves `spec` against the headers; a column only one side has is
    /// reported as a problem (unless ignored) and not compared.
    pub(crate) fn new(
        spec: &DiffSpec,
        (lname, lcols): (&str, &[String]),
        (rname, rcols): (&str, &[String]),
        problems: &mut Vec<Problem>,
    ) -> Result<Plan> {
        spec.check()?;
        let pos = |cols: &[String], c: &str| cols.iter().position(|x| x == c);
        let key = spec
            .key
            .iter()
            .map(|k| match (pos(lcols, k), pos(rcols, k)) {
                (Some(l), Some(r)) => Ok((l, r)),
                _ => Err(Error::invalid_data(format!("key column {k:?} is missing"))
                    .with_field(k.clone())),
            })
            .collect::<Result<Vec<_>>>()?;
        for name in spec.fields.keys() {
            if pos(lcols, name).is_none() && pos(rcols, name).is_none() {
                return Err(Error::config(format!(
                    "reconcile spec names field {name:?}, which neither {lname} nor {rname} has"
                ))
                .with_field(format!("fields.{name}")));
            }
        }
        let mut fields = Vec::new();
        for (li, c) in lcols.iter().enumerate() {
            if spec.key.contains(c) {
                continue;
            }
            let rule = Rule::compile(spec.policy(c)).map_err(Error::config)?;
            match pos(rcols, c) {
                Some(ri) if rule != Rule::Ignore => fields.push(PlanField {
                    name: c.clone(),
                    left: li,
                    right: ri,
                    rule,
                }),
                Some(_) => {}
                None if rule == Rule::Ignore => {}
                None => problems.push(Problem::new(
                    lname,
                    1,
                    Some(li as u64 + 1),
                    format!("column {c:?} is not in {rname}; it is not compared"),
                )),
            }
        }
        for (ri, c) in rcols.iter().enumerate() {
            if !spec.key.contains(c)
                && pos(lcols, c).is_none()
                && spec.policy(c) != &super::FieldPolicy::Ignore
            {
                problems.push(Problem::new(
                    rname,
                    1,
                    Some(ri as u64 + 1),
                    format!("column {c:?} is not in {lname}; it is not compared"),
                ));
            }
        }
        let dimension = spec
            .dimension
            .as_ref()
            .map(|d| match (pos(lcols, d), pos(rcols, d)) {
                (None, None) => Err(Error::config(format!(
                    "reconcile spec: dimension {d:?} is in neither {lname} nor {rname}"
                ))
                .with_field("dimension")),
                found => Ok(found),
            })
            .transpose()?;
        Ok(Plan {
            key,
            fields,
            dimension,
        })
    }

    /// Orders two rows by key (parts compared in key order, as text).
    pub(crate) fn key_cmp<L: AsRef<str>, R: AsRef<str>>(&self, l: &[L], r: &[R]) -> Ordering {
        for &(li, ri) in &self.key {
            match l[li].as_ref().cmp(r[ri].as_ref()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }

    /// Orders two rows of the same side by key.
    pub(crate) fn same_side_cmp<A: AsRef<str>, B: AsRef<str>>(
        &self,
        left_side: bool,
        a: &[A],
        b: &[B],
    ) -> Ordering {
        for &(li, ri) in &self.key {
            let i = if left_side { li } else { ri };
            match a[i].as_ref().cmp(b[i].as_ref()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }

    /// The key's parts of a row.
    pub(crate) fn key_of<S: AsRef<str>>(&self, left_side: bool, row: &[S]) -> Vec<String> {
        self.key
            .iter()
            .map(|&(l, r)| row[if left_side { l } else { r }].as_ref().to_string())
            .collect()
    }

    fn dimension_of<'r, S: AsRef<str>>(&self, left_side: bool, row: &'r [S]) -> Option<&'r str> {
        let (l, r) = self.dimension?;
        let i = if left_side { l } else { r }?;
        Some(row[i].as_ref())
    }

    /// Every differing field of two rows with the same key.
    pub(crate) fn compare<L: AsRef<str>, R: AsRef<str>>(
        &self,
        l: &[L],
        r: &[R],
    ) -> Vec<FieldDelta> {
        let mut out = Vec::new();
        for f in &self.fields {
            let (lv, rv) = (l[f.left].as_ref(), r[f.right].as_ref());
            if let Some(delta) = f.rule.differs(lv, rv) {
                out.push(FieldDelta {
                    field: f.name.clone(),
                    left: lv.to_string(),
                    right: rv.to_string(),
                    delta,
                });
            }
        }
        out
    }
}

/// Collects differences and counts; one per thread, merged at the end.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) summary: Summary,
    by_field: Vec<u64>,
    by_dim: HashMap<String, ClassCounts>,
    pub(crate) differences: Vec<Difference>,
    pub(crate) problems: Vec<Problem>,
    /// Rows left out as duplicate keys, left and right.
    pub(crate) duplicates: [u64; 2],
    /// Keys matched by fingerprint, by the dimension id of their table.
    matched_dims: Vec<u64>,
}

/// One side's row as the tally sees it.
pub(crate) struct Seen<'r, S> {
    pub(crate) fields: &'r [S],
    pub(crate) line: Option<u64>,
}

impl Tally {
    pub(crate) fn new(plan: &Plan) -> Self {
        Tally {
            by_field: vec![0; plan.fields.len()],
            ..Tally::default()
        }
    }

    fn dim(&mut self, plan: &Plan, value: Option<&str>, kind: Option<DiffKind>) {
        if plan.dimension.is_none() {
            return;
        }
        let v = value.unwrap_or("");
        match self.by_dim.get_mut(v) {
            Some(c) => c.bump(kind),
            None => self.by_dim.entry(v.to_string()).or_default().bump(kind),
        }
    }

    /// A key only one side has.
    pub(crate) fn only<S: AsRef<str>>(&mut self, plan: &Plan, left_side: bool, row: Seen<'_, S>) {
        let kind = if left_side {
            DiffKind::OnlyLeft
        } else {
            DiffKind::OnlyRight
        };
        if left_side {
            self.summary.only_left += 1;
        } else {
            self.summary.only_right += 1;
        }
        let dimension = plan.dimension_of(left_side, row.fields);
        self.dim(plan, dimension, Some(kind));
        let (left_line, right_line) = if left_side {
            (row.line, None)
        } else {
            (None, row.line)
        };
        self.differences.push(Difference {
            key: plan.key_of(left_side, row.fields),
            kind,
            left_line,
            right_line,
            dimension: dimension.map(str::to_string),
            fields: Vec::new(),
        });
    }

    /// A key both sides have.
    pub(crate) fn both<L: AsRef<str>, R: AsRef<str>>(
        &mut self,
        plan: &Plan,
        l: Seen<'_, L>,
        r: Seen<'_, R>,
    ) {
        let dimension = plan
            .dimension_of(true, l.fields)
            .or_else(|| plan.dimension_of(false, r.fields));
        let fields = plan.compare(l.fields, r.fields);
        if fields.is_empty() {
            self.summary.matched += 1;
            self.dim(plan, dimension, None);
            return;
        }
        self.summary.mismatched += 1;
        self.dim(plan, dimension, Some(DiffKind::Mismatch));
        for d in &fields {
            if let Some(i) = plan.fields.iter().position(|f| f.name == d.field) {
                self.by_field[i] += 1;
            }
        }
        self.differences.push(Difference {
            key: plan.key_of(true, l.fields),
            kind: DiffKind::Mismatch,
            left_line: l.line,
            right_line: r.line,
            dimension: dimension.map(str::to_string),
            fields,
        });
    }

    pub(crate) fn absorb(&mut self, o: Tally) {
        let s = &mut self.summary;
        s.matched += o.summary.matched;
        s.only_left += o.summary.only_left;
        s.only_right += o.summary.only_right;
        s.mismatched += o.summary.mismatched;
        s.rejected_rows += o.summary.rejected_rows;
        self.duplicates[0] += o.duplicates[0];
        self.duplicates[1] += o.duplicates[1];
        if self.matched_dims.len() < o.matched_dims.len() {
            self.matched_dims.resize(o.matched_dims.len(), 0);
        }
        for (a, b) in self.matched_dims.iter_mut().zip(&o.matched_dims) {
            *a += b;
        }
        for (a, b) in self.by_field.iter_mut().zip(&o.by_field) {
            *a += b;
        }
        for (k, v) in o.by_dim {
            self.by_dim.entry(k).or_default().add(&v);
        }
        self.differences.extend(o.differences);
        self.problems.extend(o.problems);
    }

    /// The report, differences ordered by key and problems by place.
    pub(crate) fn finish(
        mut self,
        plan: &Plan,
        spec: &DiffSpec,
        names: (&str, &str),
    ) -> DiffReport {
        for (f, n) in plan.fields.iter().zip(&self.by_field) {
            if *n > 0 {
                self.summary.by_field.insert(f.name.clone(), *n);
            }
        }
        self.summary.by_dimension = self.by_dim.into_iter().collect();
        self.differences.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        self.problems.sort();
        DiffReport {
            left: names.0.to_string(),
            right: names.1.to_string(),
            key_columns: spec.key.clone(),
            summary: self.summary,
            differences: self.differences,
            problems: self.problems,
        }
    }
}

/// Diffs two in-memory tables (the hash mode): both are indexed by key
/// hash; each thread classifies one range of hashes.
///
/// ```
/// use seamwork::reconcile::{diff_tables, DiffKind, DiffOptions, DiffSpec, Table};
///
/// let spec = DiffSpec::new(["sku"]);
/// let left = Table::from_csv("erp.csv", "sku,qty\nA,1\nB,2\n".into(), &spec).unwrap();
/// let right = Table::from_csv("store.csv", "sku,qty\nA,1\nB,3\nC,0\n".into(), &spec).unwrap();
/// let report = diff_tables(&left, &right, &spec, &DiffOptions::default()).unwrap();
/// assert_eq!(report.summary.mismatched, 1);
/// assert_eq!(report.differences[1].kind, DiffKind::OnlyRight);
/// ```
pub fn diff_tables(
    left: &Table,
    right: &Table,
    spec: &DiffSpec,
    options: &DiffOptions,
) -> Result<DiffReport> {
    let mut problems = Vec::new();
    let plan = Plan::new(
        spec,
        (left.name(), left.columns()),
        (right.name(), right.columns()),
        &mut problems,
    )?;
    let threads = options.threads.clamp(1, BUCKETS);
    let ranges: Vec<std::ops::Range<usize>> = (0..threads)
        .map(|t| BUCKETS * t / threads..BUCKETS * (t + 1) / threads)
        .collect();
    let mut tally = Tally::new(&plan);
    tally.problems = problems;
    tally.problems.extend_from_slice(left.problems());
    tally.problems.extend_from_slice(right.problems());
    tally.summary.rejected_rows = (left.problems().len() + right.problems().len()) as u64;
    let dim_from = plan.dimension.map(|(l, _)| l.is_some());
    let work = |range: std::ops::Range<usize>| {
        let mut t = Tally::new(&plan);
        for b in range {
            merge_hashes(
                &plan,
                &mut t,
                (left, &left.index()[b]),
                (right, &right.index()[b]),
                dim_from,
            );
        }
        t
    };
    let partials: Vec<Tally> = if ranges.len() == 1 {
        vec![work(ranges[0].clone())]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|r| {
                    let work = &work;
                    let r = r.clone();
                    s.spawn(move || work(r))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("diff thread panicked"))
                .collect()
        })
    };
    for p in partials {
        tally.absorb(p);
    }
    if let Some(from_left) = dim_from {
        let names = if from_left { left.dims() } else { right.dims() };
        for (id, n) in std::mem::take(&mut tally.matched_dims)
            .into_iter()
            .enumerate()
        {
            if n > 0 {
                tally.by_dim.entry(names[id].clone()).or_default().matched += n;
            }
        }
    }
    tally.summary.left_rows = left.len() as u64 - tally.duplicates[0];
    tally.summary.right_rows = right.len() as u64 - tally.duplicates[1];
    Ok(tally.finish(&plan, spec, (left.name(), right.name())))
}

const DUPLICATE: &str = "duplicate key";

/// The message of a duplicate-key problem.
pub(crate) fn duplicate_message(key: &[String], first_line: Option<u64>) -> String {
    match first_line {
        Some(l) => format!(
            "{DUPLICATE} ({}) also at line {l}; this row is left out",
            key.join(", ")
        ),
        None => format!("{DUPLICATE} ({}); this row is left out", key.join(", ")),
    }
}

/// Classifies the rows of one hash range of both sides. A key whose two
/// hashes and field fingerprint agree on both sides is matched without
/// reading its text; everything else is compared field by field.
fn merge_hashes(
    plan: &Plan,
    t: &mut Tally,
    (left, li): (&Table, &[Entry]),
    (right, ri): (&Table, &[Entry]),
    dim_from: Option<bool>,
) {
    let (mut lf, mut rf) = (Vec::new(), Vec::new());
    let (mut a, mut b) = (0, 0);
    while a < li.len() || b < ri.len() {
        let h = match (li.get(a), ri.get(b)) {
            (Some(x), Some(y)) => x.hash.min(y.hash),
            (Some(x), None) => x.hash,
            (None, Some(y)) => y.hash,
            (None, None) => break,
        };
        let a_end = a + li[a..].iter().take_while(|e| e.hash == h).count();
        let b_end = b + ri[b..].iter().take_while(|e| e.hash == h).count();
        if a_end - a == 1 && b_end - b == 1 {
            let (x, y) = (li[a], ri[b]);
            a = a_end;
            b = b_end;
            if x.check == y.check {
                t.summary.matched += 1;
                if let Some(from_left) = dim_from {
                    let id = if from_left { x.dim } else { y.dim } as usize;
                    if t.matched_dims.len() <= id {
                        t.matched_dims.resize(id + 1, 0);
                    }
                    t.matched_dims[id] += 1;
                }
                continue;
            }
            left.fields(x.row, &mut lf);
            right.fields(y.row, &mut rf);
            if plan.key_cmp(&lf, &rf) == Ordering::Equal {
                let l = Seen {
                    fields: &lf,
                    line: left.line(x.row),
                };
                let r = Seen {
                    fields: &rf,
                    line: right.line(y.row),
                };
                t.both(plan, l, r);
                continue;
            }
            merge_group(plan, t, left, right, &[x], &[y]);
            continue;
        }
        merge_group(plan, t, left, right, &li[a..a_end], &ri[b..b_end]);
        a = a_end;
        b = b_end;
    }
}

/// Rows sharing one hash: duplicates on a side are reported, then keys pair up.
fn merge_group(
    plan: &Plan,
    t: &mut Tally,
    left: &Table,
    right: &Table,
    lg: &[Entry],
    rg: &[Entry],
) {
    fn unique<'t>(
        plan: &Plan,
        table: &'t Table,
        group: &[Entry],
        left_side: bool,
        t: &mut Tally,
    ) -> Vec<(u32, Vec<Cow<'t, str>>)> {
        let mut kept: Vec<(u32, Vec<Cow<'t, str>>)> = Vec::new();
        for e in group {
            let row = e.row;
            let mut f = Vec::new();
            table.fields(row, &mut f);
            match kept
                .iter()
                .find(|(_, k)| plan.same_side_cmp(left_side, k, &f) == Ordering::Equal)
            {
                Some((first, _)) => {
                    let msg = duplicate_message(&plan.key_of(left_side, &f), table.line(*first));
                    t.problems.push(Problem::new(
                        table.name(),
                        table.line(row).unwrap_or(0),
                        None,
                        msg,
                    ));
                    t.summary.rejected_rows += 1;
                    t.duplicates[usize::from(!left_side)] += 1;
                }
                None => kept.push((row, f)),
            }
        }
        kept
    }
    let lk = unique(plan, left, lg, true, t);
    let mut rk: Vec<Option<(u32, Vec<Cow<'_, str>>)>> = unique(plan, right, rg, false, t)
        .into_iter()
        .map(Some)
        .collect();
    for (lrow, lf) in &lk {
        let found = rk
            .iter_mut()
            .find(|x| {
                x.as_ref()
                    .is_some_and(|(_, rf)| plan.key_cmp(lf, rf) == Ordering::Equal)
            })
            .and_then(Option::take);
        let l = Seen {
            fields: lf.as_slice(),
            line: left.line(*lrow),
        };
        match found {
            Some((rrow, rf)) => t.both(
                plan,
                l,
                Seen {
                    fields: rf.as_slice(),
                    line: right.line(rrow),
                },
            ),
            None => t.only(plan, true, l),
        }
    }
    for (rrow, rf) in rk.into_iter().flatten() {
        t.only(
            plan,
            false,
            Seen {
                fields: rf.as_slice(),
                line: right.line(rrow),
            },
        );
    }
}

/// Reads two CSV files on two threads and diffs them in the hash mode.
/// The two tables are freed on a short-lived background thread after the
/// diff, so the caller does not wait for the unmapping.
pub fn diff_csv_files(
    left: &std::path::Path,
    right: &std::path::Path,
    spec: &DiffSpec,
    options: &DiffOptions,
) -> Result<DiffReport> {
    spec.check()?;
    let (l, r) = std::thread::scope(|s| {
        let l = s.spawn(|| Table::from_file(left, spec));
        let r = Table::from_file(right, spec);
        (l.join().expect("reader thread panicked"), r)
    });
    let (l, r) = (l?, r?);
    let report = diff_tables(&l, &r, spec, options);
    // Freeing the buffers is not part of the answer: hand them to a thread.
    std::thread::spawn(move || drop((l, r)));
    report
}
