//! Loading a mapping spec from TOML or JSON, checking it, and compiling it.
//!
//! Every problem in a spec is collected — unknown target fields, unknown or
//! malformed transforms, bad expressions, type mismatches, missing required
//! targets — and reported in one [`SpecError`], each with its place in the
//! file (`line:column` for TOML, the key path for both).

use std::fmt;
use std::marker::PhantomData;

use serde_json::{Map, Value};

use super::expr::Expression;
use super::schema::{FieldType, Mappable, Schema};
use super::transform::{Transform, TransformSpec, Ty, ty_of};
use super::value::{Path, Val};
use crate::error::Error;
use crate::source_text::{line_column, read_file};

/// A key or index in a spec file, for locating problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                if k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    s.push_str(k);
                } else {
                    s.push_str(&format!("{k:?}"));
                }
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// Where in the spec (`fields."price.amount".transforms[1]`).
    pub path: String,
    /// 1-based line and column in the file, when the format gives them.
    pub location: Option<(usize, usize)>,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((line, col)) = self.location {
            write!(f, "{line}:{col}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file (or a name for the text), as given to the loader.
    pub origin: String,
    /// The problems, in file order as far as known.
    pub problems: Vec<SpecProblem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mapping spec {} has {} problem(s):",
            self.origin,
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  {}:{p}", self.origin)?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

impl From<SpecError> for Error {
    fn from(e: SpecError) -> Self {
        let mut err = Error::config(e.to_string());
        if let Some(p) = e.problems.first()
            && let Some((line, col)) = p.location
        {
            err = err.with_file(e.origin.clone(), Some(line as u64), Some(col as u64));
        }
        err
    }
}

/// Where a field's value comes from.
#[derive(Debug)]
pub(crate) enum SourceKind {
    Path(Path),
    Const(Val<'static>),
    Now,
    Expr(Expression),
}

/// A compiled field mapping.
#[derive(Debug)]
pub(crate) struct FieldMap {
    pub target: String,
    pub target_path: Path,
    /// `target` split at dots, for building the mapped record.
    pub target_keys: Vec<String>,
    pub ty: FieldType,
    pub source: SourceKind,
    pub transforms: Vec<Transform>,
    pub required: bool,
    /// Index of its source key in [`Group::columns`], when it reads one.
    pub column: Option<usize>,
}

impl FieldMap {
    /// Whether the way back can undo every step.
    pub fn reversible(&self) -> bool {
        matches!(self.source, SourceKind::Path(_))
            && self.transforms.iter().all(Transform::is_reversible)
    }
}

/// A compiled list mapping: each element of `source` becomes one element of `target`.
#[derive(Debug)]
pub(crate) struct ListMap {
    pub target: String,
    pub source: Path,
    /// Whether a missing source list is an error (an empty one never is).
    pub required: bool,
    pub group: Group,
}

/// The fields and lists of one level.
#[derive(Debug, Default)]
pub(crate) struct Group {
    pub fields: Vec<FieldMap>,
    pub lists: Vec<ListMap>,
    /// All-or-nothing parts of the target (from the schema).
    pub parts: Vec<(&'static str, Vec<&'static str>)>,
    /// For each part, the fields written under it: field number and the
    /// number of the member it writes (found once, not per record).
    pub part_fields: Vec<Vec<(usize, Option<usize>)>>,
    /// The top-level record keys its fields read, sorted and unique: read in
    /// one ordered pass over the record instead of a lookup per field.
    pub columns: Vec<String>,
    /// The first bytes of each column as a number ([`key_prefix`]), so the
    /// pass orders most keys without comparing their text.
    pub column_prefixes: Vec<u64>,
    /// What the group reads, for schema-drift profiling (built on first use).
    pub read_tree: std::sync::OnceLock<super::drift::ReadTree>,
}

/// A checked, compiled mapping spec for entity `E`.
///
/// Load one with [`MappingSpec::from_toml`] or [`MappingSpec::from_json`];
/// apply it with [`MappingSpec::apply`] (outside record → entity) and
/// [`MappingSpec::to_payload`] (entity → outside record).
#[derive(Debug)]
pub struct MappingSpec<E> {
    pub(crate) system: String,
    pub(crate) version: u32,
    pub(crate) description: Option<String>,
    pub(crate) root: Group,
    /// Where each top-level field goes in `E`, when a typed builder takes this spec.
    pub(crate) plan: Option<super::build::Plan>,
    _entity: PhantomData<fn() -> E>,
}

impl<E: Mappable> MappingSpec<E> {
    /// Loads a TOML spec. `origin` names the file in messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, SpecError> {
        let syntax = |e: toml::de::Error| {
            let location = e.span().map(|s| line_column(text, s.start));
            SpecError {
                origin: origin.to_string(),
                problems: vec![SpecProblem {
                    path: String::new(),
                    location,
                    message: e.message().trim().to_string(),
                }],
            }
        };
        let tree = toml::de::DeTable::parse(text).map_err(syntax)?;
        let value: Value = toml::from_str(text).map_err(syntax)?;
        let locate = |path: &[Seg]| locate_toml(text, tree.get_ref(), path);
        Self::from_value(&value, origin, &locate)
    }

    /// Loads a JSON spec. `origin` names the file in messages.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, SpecError> {
        let value: Value = serde_json::from_str(text).map_err(|e| SpecError {
            origin: origin.to_string(),
            problems: vec![SpecProblem {
                path: String::new(),
                location: Some((e.line(), e.column())),
                message: e.to_string(),
            }],
        })?;
        Self::from_value(&value, origin, &|_| None)
    }

    /// Loads a spec from a file, choosing the format by extension (`.toml` or `.json`).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = read_file(path, "mapping spec")?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Ok(Self::from_json(&text, &origin)?),
            Some("toml") => Ok(Self::from_toml(&text, &origin)?),
            _ => Err(Error::config(format!(
                "mapping spec {origin}: the file name must end in .toml or .json"
            ))),
        }
    }

    fn from_value(value: &Value, origin: &str, locate: &Locate<'_>) -> Result<Self, SpecError> {
        let mut c = Checker {
            problems: Vec::new(),
            locate,
        };
        let spec = c.top(value);
        if c.problems.is_empty()
            && let Some(spec) = spec
        {
            return Ok(spec);
        }
        // File order where the format gives positions; the rest after.
        c.problems
            .sort_by_key(|p| p.location.unwrap_or((usize::MAX, usize::MAX)));
        Err(SpecError {
            origin: origin.to_string(),
            problems: c.problems,
        })
    }

    /// The system whose records this spec reads.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The spec's version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The description, if the spec has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Target fields that do not survive a round trip entity → payload →
    /// entity: computed (`expr`), stamped (`now`), or read through a transform
    /// that cannot be undone. Constants (`value`) come back by themselves.
    pub fn one_way_fields(&self) -> Vec<String> {
        fn walk(g: &Group, prefix: &str, out: &mut Vec<String>) {
            for f in &g.fields {
                // Root-relative sources inside a list cannot be written back per element.
                let from_root =
                    !prefix.is_empty() && matches!(&f.source, SourceKind::Path(p) if p.from_root());
                if from_root || (!f.reversible() && !matches!(f.source, SourceKind::Const(_))) {
                    out.push(format!("{prefix}{}", f.target));
                }
            }
            for l in &g.lists {
                walk(&l.group, &format!("{prefix}{}[].", l.target), out);
            }
        }
        let mut out = Vec::new();
        walk(&self.root, "", &mut out);
        out
    }
}

/// Finds the line and column of a spec path, when the format gives them.
type Locate<'a> = dyn Fn(&[Seg]) -> Option<(usize, usize)> + 'a;

struct Checker<'a> {
    problems: Vec<SpecProblem>,
    locate: &'a Locate<'a>,
}

const TOP_KEYS: &[&str] = &[
    "system",
    "entity",
    "version",
    "description",
    "fields",
    "lists",
];
const FIELD_KEYS: &[&str] = &["from", "value", "now", "expr", "transforms", "required"];
const LIST_KEYS: &[&str] = &["from", "required", "fields", "lists"];

impl Checker<'_> {
    fn problem(&mut self, path: &[Seg], message: impl Into<String>) {
        self.problems.push(SpecProblem {
            path: path_text(path),
            location: (self.locate)(path),
            message: message.into(),
        });
    }

    fn table<'v>(&mut self, v: &'v Value, path: &[Seg]) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.problem(path, format!("must be a table, found {}", kind(other)));
                None
            }
        }
    }

    fn unknown_keys(&mut self, m: &Map<String, Value>, allowed: &[&str], path: &[Seg]) {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                let at = [path, &[Seg::Key(k.clone())]].concat();
                self.problem(
                    &at,
                    format!("unknown key; expected one of {}", allowed.join(", ")),
                );
            }
        }
    }

    fn top<E: Mappable>(&mut self, v: &Value) -> Option<MappingSpec<E>> {
        let m = self.table(v, &[])?;
        self.unknown_keys(m, TOP_KEYS, &[]);
        let text_field = |c: &mut Self, key: &str| -> Option<String> {
            match m.get(key) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(other) => {
                    c.problem(
                        &[Seg::Key(key.into())],
                        format!("must be non-empty text, found {}", kind(other)),
                    );
                    None
                }
                None => {
                    c.problem(&[], format!("`{key}` is missing"));
                    None
                }
            }
        };
        let system = text_field(self, "system");
        if let Some(entity) = text_field(self, "entity")
            && entity != E::KIND.name()
        {
            self.problem(
                &[Seg::Key("entity".into())],
                format!(
                    "this spec maps {entity:?}, but it was loaded as a {} spec",
                    E::KIND.name()
                ),
            );
        }
        let version = match m.get("version") {
            Some(Value::Number(n)) => match n.as_u64().and_then(|v| u32::try_from(v).ok()) {
                Some(v) if v >= 1 => Some(v),
                _ => {
                    self.problem(
                        &[Seg::Key("version".into())],
                        format!("must be a whole number ≥ 1, found {n}"),
                    );
                    None
                }
            },
            Some(other) => {
                self.problem(
                    &[Seg::Key("version".into())],
                    format!("must be a whole number ≥ 1, found {}", kind(other)),
                );
                None
            }
            None => {
                self.problem(&[], "`version` is missing");
                None
            }
        };
        let description = match m.get("description") {
            None => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(other) => {
                self.problem(
                    &[Seg::Key("description".into())],
                    format!("must be text, found {}", kind(other)),
                );
                None
            }
        };
        let root = self.group(m, &E::schema(), &[]);
        Some(MappingSpec {
            system: system?,
            version: version?,
            description,
            plan: super::build::plan::<E>(&root),
            root,
            _entity: PhantomData,
        })
    }

    fn group(&mut self, m: &Map<String, Value>, schema: &Schema, at: &[Seg]) -> Group {
        let mut group = Group {
            parts: schema.groups.clone(),
            ..Group::default()
        };
        let fields_at = [at, &[Seg::Key("fields".into())]].concat();
        let lists_at = [at, &[Seg::Key("lists".into())]].concat();
        let fields = m.get("fields").and_then(|f| self.table(f, &fields_at));
        if let Some(fields) = fields {
            for (target, spec) in fields {
                let here = [fields_at.as_slice(), &[Seg::Key(target.clone())]].concat();
                if let Some(f) = self.field(target, spec, schema, &here) {
                    group.fields.push(f);
                }
            }
        }
        for required in schema.fields.iter().filter(|f| f.required) {
            // A target written in the spec counts, even if its mapping has its own problem.
            let mapped = fields.is_some_and(|f| f.contains_key(&required.path));
            if !mapped {
                self.problem(
                    &fields_at,
                    format!(
                        "required target `{}` ({}) is not mapped; add `{}` under [{}] with `from`, `value`, `now` or `expr`",
                        required.path,
                        required.ty.name(),
                        required.path,
                        path_text(&fields_at)
                    ),
                );
            }
        }
        if let Some(lists) = m.get("lists").and_then(|l| self.table(l, &lists_at)) {
            for (target, spec) in lists {
                let here = [lists_at.as_slice(), &[Seg::Key(target.clone())]].concat();
                let Some(nested) = schema.list(target) else {
                    let known: Vec<&str> = schema.lists.iter().map(|(n, _)| *n).collect();
                    self.problem(
                        &here,
                        format!("unknown target list; this entity has: {}", known.join(", ")),
                    );
                    continue;
                };
                let Some(lm) = self.table(spec, &here) else {
                    continue;
                };
                self.unknown_keys(lm, LIST_KEYS, &here);
                let source = match lm.get("from") {
                    Some(Value::String(p)) => match Path::parse(p) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            self.problem(
                                &[here.as_slice(), &[Seg::Key("from".into())]].concat(),
                                e,
                            );
                            None
                        }
                    },
                    _ => {
                        self.problem(&here, "a list needs `from`, the path of the source array");
                        None
                    }
                };
                let required = match lm.get("required") {
                    None => true,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => {
                        self.problem(
                            &[here.as_slice(), &[Seg::Key("required".into())]].concat(),
                            format!("must be true or false, found {}", kind(other)),
                        );
                        true
                    }
                };
                let inner = self.group(lm, nested, &here);
                if let Some(source) = source {
                    group.lists.push(ListMap {
                        target: target.clone(),
                        source,
                        required,
                        group: inner,
                    });
                }
            }
        }
        index_columns(&mut group);
        index_parts(&mut group);
        group
    }

    /// Checks one field mapping; every problem is recorded, and the field is
    /// compiled only when it has none.
    fn field(
        &mut self,
        target: &str,
        spec: &Value,
        schema: &Schema,
        at: &[Seg],
    ) -> Option<FieldMap> {
        let before = self.problems.len();
        let tf = schema.field(target).cloned();
        if tf.is_none() {
            let hint = suggestion(target, &schema.field_names());
            self.problem(at, format!("unknown target field{hint}"));
        }
        let key = |k: &str| [at, &[Seg::Key(k.into())]].concat();
        // Shorthand: `sku = "/variant/sku"` means `from`.
        let spec_table;
        let m = match spec {
            Value::String(_) => {
                let mut t = Map::new();
                t.insert("from".into(), spec.clone());
                spec_table = t;
                &spec_table
            }
            other => self.table(other, at)?,
        };
        self.unknown_keys(m, FIELD_KEYS, at);

        let source = self.source(m, at);
        let mut ty = match &source {
            Some(SourceKind::Const(v)) => ty_of(v),
            Some(SourceKind::Now) => Ty::Time,
            _ => Ty::Any,
        };
        let mut transforms = Vec::new();
        let mut typed = true;
        match m.get("transforms") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let here = [key("transforms").as_slice(), &[Seg::Index(i)]].concat();
                    match TransformSpec::from_value(item).and_then(|s| Transform::compile(&s)) {
                        Err(e) => {
                            self.problem(&here, e);
                            typed = false;
                        }
                        Ok(t) => {
                            if typed {
                                match t.out_type(ty) {
                                    Ok(next) => ty = next,
                                    Err(e) => {
                                        self.problem(&here, e);
                                        typed = false;
                                    }
                                }
                            }
                            transforms.push(t);
                        }
                    }
                }
            }
            Some(other) => self.problem(
                &key("transforms"),
                format!("must be an array, found {}", kind(other)),
            ),
        }
        let tf = tf?;
        if typed && !fits(ty, tf.ty) {
            self.problem(
                at,
                format!(
                    "type mismatch: the value ends as {}, but `{target}` is {}{}",
                    ty.name(),
                    tf.ty.name(),
                    fix_hint(ty, tf.ty)
                ),
            );
        }
        // What the spec fixes must itself fit: constants, and the outputs of
        // a value map that feeds an enum.
        if let (Some(SourceKind::Const(v)), true) = (&source, transforms.is_empty())
            && let Err(e) = super::apply::check_value(v.clone(), tf.ty)
        {
            self.problem(&key("value"), e);
        }
        if let (Some(Transform::Map { table, fallback }), FieldType::Enum(values)) =
            (transforms.last(), tf.ty)
        {
            for out in table.values().chain(fallback) {
                if !values.contains(&out.as_str()) {
                    self.problem(
                        &key("transforms"),
                        format!(
                            "the map produces {out:?}, which is not one of {}",
                            values.join(", ")
                        ),
                    );
                }
            }
        }
        let required = match m.get("required") {
            None => tf.required,
            Some(Value::Bool(false)) if tf.required => {
                self.problem(
                    &key("required"),
                    format!("`{target}` is required by the entity; it cannot be optional here"),
                );
                true
            }
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.problem(
                    &key("required"),
                    format!("must be true or false, found {}", kind(other)),
                );
                tf.required
            }
        };
        if self.problems.len() > before {
            return None;
        }
        let target_path = Path::parse(&format!(
            "/{}",
            target
                .replace('~', "~0")
                .replace('/', "~1")
                .replace('.', "/")
        ))
        .ok()?;
        Some(FieldMap {
            target: target.to_string(),
            target_path,
            target_keys: target.split('.').map(str::to_string).collect(),
            ty: tf.ty,
            source: source?,
            transforms,
            required,
            column: None,
        })
    }

    /// The field's source: exactly one of `from`, `value`, `now`, `expr`.
    fn source(&mut self, m: &Map<String, Value>, at: &[Seg]) -> Option<SourceKind> {
        let key = |k: &str| [at, &[Seg::Key(k.into())]].concat();
        let given: Vec<&str> = ["from", "value", "now", "expr"]
            .into_iter()
            .filter(|k| m.contains_key(*k))
            .collect();
        if given.len() != 1 {
            self.problem(
                at,
                format!(
                    "give exactly one of `from`, `value`, `now` or `expr` (found {})",
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        given.join(", ")
                    }
                ),
            );
            return None;
        }
        match given[0] {
            "from" => match m.get("from") {
                Some(Value::String(p)) => match Path::parse(p) {
                    Ok(p) => Some(SourceKind::Path(p)),
                    Err(e) => {
                        self.problem(&key("from"), e);
                        None
                    }
                },
                _ => {
                    self.problem(&key("from"), "must be a path (`/json/pointer` or `column`)");
                    None
                }
            },
            "value" => Some(SourceKind::Const(Val::from_json(&m["value"]).into_owned())),
            "now" => {
                if m.get("now") == Some(&Value::Bool(true)) {
                    Some(SourceKind::Now)
                } else {
                    self.problem(&key("now"), "`now` may only be true");
                    None
                }
            }
            _ => match m.get("expr") {
                Some(Value::String(src)) => match Expression::compile(src) {
                    Ok(e) => Some(SourceKind::Expr(e)),
                    Err(e) => {
                        self.problem(&key("expr"), e);
                        None
                    }
                },
                _ => {
                    self.problem(&key("expr"), "must be a CEL expression as text");
                    None
                }
            },
        }
    }
}

/// Finds, for each all-or-nothing part, the fields written under it and the member each writes.
fn index_parts(group: &mut Group) {
    group.part_fields = group
        .parts
        .iter()
        .map(|(part, members)| {
            // Found members are kept as the bits of a u64 per record.
            assert!(members.len() <= 64, "part {part} has too many members");
            group
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.target_keys.first().is_some_and(|k| k == part))
                .map(|(i, f)| {
                    let member = f
                        .target_keys
                        .get(1)
                        .and_then(|m| members.iter().position(|x| x == m));
                    (i, member)
                })
                .collect()
        })
        .collect();
}

/// Collects the top-level keys the group's fields read and points each field at its own.
fn index_columns(group: &mut Group) {
    let mut columns: Vec<String> = group
        .fields
        .iter()
        .filter_map(|f| match &f.source {
            SourceKind::Path(p) => p.column().map(str::to_string),
            _ => None,
        })
        .collect();
    columns.sort_unstable();
    columns.dedup();
    for f in &mut group.fields {
        f.column = match &f.source {
            SourceKind::Path(p) => p
                .column()
                .and_then(|c| columns.binary_search_by(|k| k.as_str().cmp(c)).ok()),
            _ => None,
        };
    }
    group.column_prefixes = columns.iter().map(|c| key_prefix(c)).collect();
    group.columns = columns;
}

/// The first eight bytes of `key` (zero-padded) as a big-endian number. Two
/// keys whose prefixes differ are ordered as their prefixes are: the first
/// differing byte decides, and a zero pad sorts below any real byte except
/// a zero byte, which then also makes the prefixes equal at that position.
/// Equal prefixes say nothing: compare the text then.
#[inline]
pub(crate) fn key_prefix(key: &str) -> u64 {
    let b = key.as_bytes();
    match b.first_chunk::<8>() {
        Some(head) => u64::from_be_bytes(*head),
        None => b
            .iter()
            .enumerate()
            .fold(0, |acc, (i, &x)| acc | u64::from(x) << (56 - 8 * i)),
    }
}

/// Whether a value of static type `ty` can fill a target of type `target`
/// (`Any` is checked when each record is mapped).
fn fits(ty: Ty, target: FieldType) -> bool {
    use FieldType as F;
    match ty {
        Ty::Any => true,
        // Text is parsed on the way in (`"12"` into an integer, a code into an enum).
        Ty::Text => !matches!(target, F::Bool),
        Ty::Int => matches!(
            target,
            F::Integer | F::Count | F::Decimal | F::Text | F::TextMap | F::Bool | F::Sku
        ),
        Ty::Dec => matches!(
            target,
            F::Decimal | F::Integer | F::Count | F::Text | F::TextMap
        ),
        Ty::Bool => matches!(target, F::Bool | F::Text | F::TextMap),
        Ty::Time => matches!(target, F::DateTime | F::Text | F::TextMap),
        Ty::List => matches!(target, F::TextList | F::GtinList),
    }
}

fn fix_hint(ty: Ty, target: FieldType) -> &'static str {
    match (ty, target) {
        (Ty::List, _) => "; a list only fits a list target (drop the `split`)",
        (_, FieldType::DateTime) => "; add a `datetime` transform",
        (_, FieldType::Decimal | FieldType::Integer | FieldType::Count) => {
            "; drop the transform that made it so"
        }
        (Ty::Text, FieldType::Bool) => "; add a `bool` transform",
        (_, FieldType::TextList) => "; add a `split` transform",
        _ => "",
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

/// " (did you mean `x`?)" for the closest known name, if any is close.
fn suggestion(name: &str, known: &[&str]) -> String {
    let best = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, k)) if d <= 3 => format!(" (did you mean `{k}`?)"),
        _ => format!("; known fields: {}", known.join(", ")),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The line and column of `path` in a TOML document: the deepest part of the
/// path that exists there.
fn locate_toml(text: &str, root: &toml::de::DeTable<'_>, path: &[Seg]) -> Option<(usize, usize)> {
    use toml::de::DeValue;
    let mut span = None;
    let mut table = Some(root);
    let mut array: Option<&toml::de::DeArray<'_>> = None;
    for seg in path {
        let next = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => t
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                .map(|(key, v)| (key.span(), v)),
            (Seg::Index(i), _, Some(a)) => a.get(*i).map(|v| (v.span(), v)),
            _ => None,
        };
        let Some((key_span, value)) = next else { break };
        span = Some(key_span.start);
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a),
            _ => {}
        }
    }
    span.map(|s| line_column(text, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Variant;

    const GOOD: &str = r#"
system = "erp"
entity = "variant"
version = 1

[fields]
sku = "/ITEM"
product_handle = { from = "/GROUP", transforms = ["trim", { case = "lower" }] }
"price.amount" = { from = "/PRICE", transforms = [{ decimal = { separator = "," } }] }
"price.currency" = { value = "EUR" }
status = { from = "/STATE", transforms = [{ map = { A = "active", D = "draft" } }] }
taxable = { value = true }
created_at = { now = true }
updated_at = { now = true }
"#;

    #[test]
    fn a_good_spec_loads() {
        let spec = MappingSpec::<Variant>::from_toml(GOOD, "erp_variant.toml").unwrap();
        assert_eq!(spec.system(), "erp");
        assert_eq!(spec.version(), 1);
        assert_eq!(spec.root.fields.len(), 8);
    }

    #[test]
    fn every_problem_is_listed_with_its_place() {
        let bad = r#"
system = "erp"
entity = "variant"
version = 1

[fields]
sku = "/ITEM"
product_handle = { from = "/GROUP", transforms = ["trimm"] }
"price.amount" = { from = "/PRICE", transforms = [{ datetime = { formats = ["%Y"] } }] }
"price.currency" = { value = "EUR" }
stauts = { from = "/STATE" }
taxable = { value = true }
created_at = { expr = "1 +" }
updated_at = { now = true, from = "/X" }
"#;
        let e = MappingSpec::<Variant>::from_toml(bad, "bad.toml").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("mapping spec bad.toml has 6 problem(s):"),
            "{text}"
        );
        assert!(text.contains("bad.toml:8:51: fields.product_handle.transforms[0]: not a transform: unknown variant `trimm`"), "{text}");
        assert!(text.contains("bad.toml:9:1: fields.\"price.amount\": type mismatch: the value ends as date-time, but `price.amount` is decimal"), "{text}");
        assert!(
            text.contains(
                "bad.toml:11:1: fields.stauts: unknown target field (did you mean `status`?)"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "required target `status` (one of active, draft, archived) is not mapped"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "bad.toml:13:16: fields.created_at.expr: expression \"1 +\" does not compile"
            ),
            "{text}"
        );
        assert!(
            text.contains("bad.toml:14:1: fields.updated_at: give exactly one of"),
            "{text}"
        );
        let lines: Vec<usize> = e
            .problems
            .iter()
            .filter_map(|p| p.location.map(|l| l.0))
            .collect();
        assert!(
            lines.windows(2).all(|w| w[0] <= w[1]),
            "in file order: {lines:?}"
        );
        let as_error: Error = e.into();
        assert_eq!(as_error.context().line, Some(6));
    }

    #[test]
    fn wrong_entity_and_syntax_errors() {
        let e = MappingSpec::<Variant>::from_toml(&GOOD.replace("variant\"", "order\""), "x.toml")
            .unwrap_err();
        assert!(e.to_string().contains("loaded as a variant spec"), "{e}");
        let e = MappingSpec::<Variant>::from_toml("system = \n", "x.toml").unwrap_err();
        assert_eq!(e.problems[0].location.map(|l| l.0), Some(1));
        let e =
            MappingSpec::<Variant>::from_json("{\"system\": \"erp\",\n \"version\": }", "x.json")
                .unwrap_err();
        assert_eq!(e.problems[0].location.map(|l| l.0), Some(2));
    }
}
