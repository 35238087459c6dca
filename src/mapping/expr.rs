//! Computed fields: CEL expressions over the source record.
//!
//! An expression is compiled once when the spec loads. It sees every
//! top-level field of the record it maps (or the list element) as a variable,
//! plus `record` (that whole record) and `root` (the whole input). Numbers
//! with a fraction reach CEL as text, and a floating-point result is refused:
//! money never passes through a float.

use std::sync::{Arc, OnceLock};

use cel::objects::{Key, Map as CelMap};
use cel::{Context, Env, Program, Value as CelValue};
use serde_json::Value;

use super::value::Val;

/// The standard CEL environment, built once: building it per evaluation
/// would cost more than most expressions.
fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib()))
}

/// Deepest bracket nesting an expression may have.
const MAX_NESTING: usize = 24;

/// A compiled CEL expression.
pub(crate) struct Expression {
    source: String,
    program: Program,
    variables: Vec<String>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expression")
            .field("source", &self.source)
            .finish()
    }
}

impl Expression {
    /// Compiles `source`; the error is CEL's own message with its position.
    pub fn compile(source: &str) -> Result<Expression, String> {
        // The CEL parser recurses per nesting level; refuse absurd nesting
        // instead of risking the stack.
        let mut depth = 0usize;
        let mut deepest = 0usize;
        for c in source.chars() {
            match c {
                '(' | '[' | '{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if deepest > MAX_NESTING {
            return Err(format!(
                "expression {source:?} nests {deepest} levels deep; at most {MAX_NESTING} are allowed"
            ));
        }
        let program = env().compile(source).map_err(|e| {
            let detail = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            format!("expression {source:?} does not compile: {detail}")
        })?;
        let variables = program
            .references()
            .variables()
            .into_iter()
            .map(str::to_string)
            .collect();
        Ok(Expression {
            source: source.to_string(),
            program,
            variables,
        })
    }

    /// The record fields it reads (its variables other than `record` and `root`).
    pub fn variables(&self) -> impl Iterator<Item = &String> {
        self.variables
            .iter()
            .filter(|v| *v != "record" && *v != "root")
    }

    /// Evaluates against `record` (and `root` for the whole input).
    pub fn eval(&self, record: &Value, root: &Value) -> Result<Val<'static>, String> {
        let mut ctx = Context::with_env(Arc::clone(env()));
        for name in &self.variables {
            let v = match name.as_str() {
                "record" => to_cel(record),
                "root" => to_cel(root),
                field => record.get(field).map_or(CelValue::Null, to_cel),
            };
            ctx.add_variable_from_value(name.clone(), v);
        }
        let out = self
            .program
            .execute(&ctx)
            .map_err(|e| format!("expression {:?} failed: {e}", self.source))?;
        from_cel(out).map_err(|e| format!("expression {:?} {e}", self.source))
    }
}

fn to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => CelValue::Int(i),
            None => CelValue::String(Arc::new(n.to_string())),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: std::collections::HashMap<Key, CelValue> = m
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            CelValue::Map(CelMap { map: Arc::new(map) })
        }
    }
}

fn from_cel(v: CelValue) -> Result<Val<'static>, String> {
    Ok(match v {
        CelValue::Null => Val::Null,
        CelValue::Bool(b) => Val::Bool(b),
        CelValue::Int(i) => Val::Int(i),
        CelValue::UInt(u) => {
            Val::Int(i64::try_from(u).map_err(|_| format!("produced {u}, too large"))?)
        }
        CelValue::String(s) => Val::Text(s.as_ref().clone().into()),
        CelValue::List(items) => Val::List(
            items
                .iter()
                .cloned()
                .map(from_cel)
                .collect::<Result<_, _>>()?,
        ),
        CelValue::Float(_) => {
            return Err(
                "produced a floating-point number; compute amounts with transforms, or return text"
                    .into(),
            );
        }
        other => return Err(format!("produced an unsupported value {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expressions_see_fields_record_and_root() {
        let record = json!({"first": "Ada", "last": "Lovelace", "qty": 3, "price": 1.5});
        let root = json!({"currency": "EUR"});
        let eval = |s: &str| Expression::compile(s).unwrap().eval(&record, &root);
        assert_eq!(
            eval("first + ' ' + last"),
            Ok(Val::Text("Ada Lovelace".into()))
        );
        assert_eq!(eval("qty * 2"), Ok(Val::Int(6)));
        assert_eq!(eval("record.qty > 2"), Ok(Val::Bool(true)));
        assert_eq!(eval("root.currency"), Ok(Val::Text("EUR".into())));
        assert_eq!(eval("price"), Ok(Val::Text("1.5".into())));
        assert_eq!(eval("missing == null"), Ok(Val::Bool(true)));
        assert!(eval("2.5 * 2.0").unwrap_err().contains("floating-point"));
        assert!(
            Expression::compile("first +")
                .unwrap_err()
                .contains("does not compile")
        );
        let deep = format!("{}1{}", "(".repeat(60), ")".repeat(60));
        assert!(
            Expression::compile(&deep)
                .unwrap_err()
                .contains("nests 60 levels")
        );
    }
}
