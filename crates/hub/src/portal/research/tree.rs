//! The feasibility builder's editable tree and its plain-form encoding.
//!
//! A page holds the whole tree in ordinary form fields, so every edit is one
//! normal POST that works without JavaScript (htmx only swaps the builder):
//!
//! - `k:<path>` names a node's kind (`and`, `or`, `not`, or a leaf kind);
//! - `f:<path>:<field>` holds a leaf field as typed (empty: not set);
//! - paths are `r` for the root group and `r.0`, `r.0.2`, … below it.
//!
//! A tree converts to [`Criteria`] through the criteria's own JSON grammar
//! (serde, with its unknown-key and type checks), and back from any criteria
//! (a stored query), so the builder never keeps a second meaning of its own.

pub use super::leaves::{FieldType, LEAVES, LeafKind, leaf};
use oncofed_protocol::criteria::Criteria;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A node of the builder: a group (`and`, `or`, `not` = none of) or a leaf.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    /// `and`, `or`, `not`, or a [`LeafKind::key`].
    pub kind: String,
    /// A leaf's fields as typed.
    pub fields: BTreeMap<String, String>,
    /// A group's children.
    pub children: Vec<Node>,
}

/// Why a tree is not (yet) a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The node's path (`r.0.1`).
    pub path: String,
    /// What is wrong, in English (the criteria checker's words).
    pub message: String,
}

impl Node {
    /// An empty group of `kind`.
    pub fn group(kind: &str) -> Self {
        Self {
            kind: kind.into(),
            ..Self::default()
        }
    }

    /// A new leaf of `kind` with the fields a choice needs preset.
    pub fn new_leaf(kind: &LeafKind) -> Self {
        let mut fields = BTreeMap::new();
        for field in kind.fields {
            match field.ty {
                FieldType::Choice(choices) => {
                    fields.insert(field.key.into(), choices[0].0.into());
                }
                FieldType::Bool => {
                    fields.insert(field.key.into(), "true".into());
                }
                _ => {}
            }
        }
        Self {
            kind: kind.key.into(),
            fields,
            children: Vec::new(),
        }
    }

    /// Whether this node is a group.
    pub fn is_group(&self) -> bool {
        matches!(self.kind.as_str(), "and" | "or" | "not")
    }

    /// The node at `path` (`r`, `r.0.1`).
    pub fn at_mut(&mut self, path: &str) -> Option<&mut Node> {
        let mut node = self;
        for part in path.strip_prefix('r')?.split('.').skip(1) {
            let i: usize = part.parse().ok()?;
            node = node.children.get_mut(i)?;
        }
        Some(node)
    }

    /// Removes the node at `path` (never the root).
    pub fn remove(&mut self, path: &str) -> bool {
        let Some((parent, last)) = path.rsplit_once('.') else {
            return false;
        };
        let Ok(i) = last.parse::<usize>() else {
            return false;
        };
        match self.at_mut(parent) {
            Some(p) if i < p.children.len() => {
                p.children.remove(i);
                true
            }
            _ => false,
        }
    }

    /// Reads a tree from form pairs (`k:<path>`, `f:<path>:<field>`); `None`
    /// when the form holds no tree (a fresh builder).
    pub fn from_form(pairs: &[(String, String)]) -> Option<Node> {
        let mut kinds: Vec<(Vec<usize>, String)> = Vec::new();
        let mut fields: BTreeMap<Vec<usize>, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in pairs {
            if let Some(path) = k.strip_prefix("k:") {
                if let Some(p) = parse_path(path) {
                    kinds.push((p, v.clone()));
                }
            } else if let Some((path, field)) =
                k.strip_prefix("f:").and_then(|r| r.rsplit_once(':'))
                && let Some(p) = parse_path(path)
            {
                fields
                    .entry(p)
                    .or_default()
                    .insert(field.into(), v.trim().into());
            }
        }
        // Parents before children, siblings in index order.
        kinds.sort();
        let mut root: Option<Node> = None;
        for (path, kind) in kinds {
            let node = Node {
                kind,
                fields: fields.remove(&path).unwrap_or_default(),
                children: Vec::new(),
            };
            if path.is_empty() {
                root = Some(node);
                continue;
            }
            let parent = root
                .as_mut()
                .and_then(|r| r.descend(&path[..path.len() - 1]));
            // A child without its parent (a hand-made form) is dropped.
            if let Some(parent) = parent.filter(|p| p.is_group()) {
                parent.children.push(node);
            }
        }
        root.map(|mut r| {
            if !r.is_group() {
                r = Node {
                    kind: "and".into(),
                    fields: BTreeMap::new(),
                    children: vec![r],
                };
            }
            r
        })
    }

    fn descend(&mut self, path: &[usize]) -> Option<&mut Node> {
        let mut node = self;
        for &i in path {
            // Children are pushed in sorted order: index i is the i-th pushed.
            node = node.children.get_mut(i)?;
        }
        Some(node)
    }

    /// The tree as criteria, or what keeps it from being one (each problem
    /// names its node).
    pub fn to_criteria(&self) -> Result<Criteria, Vec<Problem>> {
        let mut problems = Vec::new();
        let value = self.to_json("r", &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        let criteria: Criteria = serde_json::from_value(value).map_err(|e| {
            vec![Problem {
                path: "r".into(),
                message: e.to_string(),
            }]
        })?;
        criteria.validate().map_err(|e| {
            vec![Problem {
                path: "r".into(),
                message: e.to_string(),
            }]
        })?;
        Ok(criteria)
    }

    fn to_json(&self, path: &str, problems: &mut Vec<Problem>) -> Value {
        let mut problem = |message: String| {
            problems.push(Problem {
                path: path.into(),
                message,
            })
        };
        if self.is_group() {
            let children: Vec<Value> = self
                .children
                .iter()
                .enumerate()
                .map(|(i, c)| c.to_json(&format!("{path}.{i}"), problems))
                .collect();
            if children.is_empty() {
                problems.push(Problem {
                    path: path.into(),
                    message: "the group has no condition yet".into(),
                });
                return Value::Null;
            }
            let one_or_all = |op: &str, mut children: Vec<Value>| {
                if children.len() == 1 {
                    children.remove(0)
                } else {
                    keyed(op, Value::Array(children))
                }
            };
            return match self.kind.as_str() {
                "and" => one_or_all("and", children),
                "or" => one_or_all("or", children),
                // "none of": NOT (c1 OR c2 …)
                _ => json!({ "not": one_or_all("or", children) }),
            };
        }
        let Some(kind) = leaf(&self.kind) else {
            problem(format!("unknown condition kind '{}'", self.kind));
            return Value::Null;
        };
        if let Some(value) = self.fields.get("value")
            && kind
                .fields
                .iter()
                .any(|f| f.key == "value" && matches!(f.ty, FieldType::Choice(_)))
        {
            return keyed(kind.key, json!(value));
        }
        let mut body = Map::new();
        let mut window = Map::new();
        for field in kind.fields {
            let Some(text) = self.fields.get(field.key).filter(|t| !t.is_empty()) else {
                continue;
            };
            let value = match field.ty {
                FieldType::Text | FieldType::Date | FieldType::Choice(_) => json!(text),
                FieldType::Bool => json!(text == "true"),
                FieldType::List => json!(
                    text.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                ),
                FieldType::Number => match number(text) {
                    Some(n) => n,
                    None => {
                        problem(format!("{}: '{text}' is not a number", field.en));
                        continue;
                    }
                },
            };
            match field.key.strip_prefix("after_") {
                Some(key) => {
                    window.insert(key.into(), value);
                }
                None => {
                    body.insert(field.key.into(), value);
                }
            }
        }
        if !window.is_empty() {
            body.insert("after_diagnosis".into(), Value::Object(window));
        }
        keyed(kind.key, Value::Object(body))
    }

    /// The builder tree of stored criteria (the root always a group).
    pub fn from_criteria(criteria: &Criteria) -> Node {
        let value = serde_json::to_value(criteria).unwrap_or(Value::Null);
        let node = Self::from_json(&value);
        if node.is_group() {
            node
        } else {
            Node {
                kind: "and".into(),
                fields: BTreeMap::new(),
                children: vec![node],
            }
        }
    }

    fn from_json(value: &Value) -> Node {
        let Some((key, body)) = value.as_object().and_then(|o| o.iter().next()) else {
            return Node::group("and");
        };
        match key.as_str() {
            "and" | "or" => Node {
                kind: key.clone(),
                fields: BTreeMap::new(),
                children: body
                    .as_array()
                    .map(|a| a.iter().map(Self::from_json).collect())
                    .unwrap_or_default(),
            },
            "not" => {
                let inner = Self::from_json(body);
                let children = if inner.kind == "or" {
                    inner.children
                } else {
                    vec![inner]
                };
                Node {
                    kind: "not".into(),
                    fields: BTreeMap::new(),
                    children,
                }
            }
            _ => {
                let mut fields = BTreeMap::new();
                match body {
                    Value::String(s) => {
                        fields.insert("value".into(), s.clone());
                    }
                    Value::Object(o) => {
                        for (k, v) in o {
                            if k == "after_diagnosis" {
                                for (wk, wv) in v.as_object().into_iter().flatten() {
                                    fields.insert(format!("after_{wk}"), text(wv));
                                }
                            } else {
                                fields.insert(k.clone(), text(v));
                            }
                        }
                    }
                    _ => {}
                }
                Node {
                    kind: key.clone(),
                    fields,
                    children: Vec::new(),
                }
            }
        }
    }
}

/// `{key: value}`.
fn keyed(key: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.to_owned(), value);
    Value::Object(m)
}

/// A JSON value as a form field shows it.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A number as typed (German decimal comma accepted).
fn number(text: &str) -> Option<Value> {
    let t = text.replace(',', ".");
    if let Ok(i) = t.parse::<i64>() {
        return Some(json!(i));
    }
    t.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(|x| json!(x))
}

/// `r.0.1` as `[0, 1]`.
fn parse_path(path: &str) -> Option<Vec<usize>> {
    let rest = path.strip_prefix('r')?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    rest.strip_prefix('.')?
        .split('.')
        .map(|p| p.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn a_form_builds_nested_criteria() {
        let form = pairs(&[
            ("k:r", "and"),
            ("k:r.0", "diagnosis"),
            ("f:r.0:icd10", "C34"),
            ("f:r.0:morphology", ""),
            ("k:r.1", "or"),
            ("k:r.1.0", "sex"),
            ("f:r.1.0:value", "female"),
            ("k:r.1.1", "age_at_diagnosis"),
            ("f:r.1.1:min", "70"),
            ("k:r.2", "not"),
            ("k:r.2.0", "marker"),
            ("f:r.2.0:gene", "HGNC:3236"),
            ("f:r.2.0:present", "true"),
        ]);
        let tree = Node::from_form(&form).unwrap();
        let criteria = tree.to_criteria().unwrap();
        let expected: Criteria = serde_json::from_value(json!({"and": [
            {"diagnosis": {"icd10": "C34"}},
            {"or": [{"sex": "female"}, {"age_at_diagnosis": {"min": 70}}]},
            {"not": {"marker": {"gene": "HGNC:3236", "present": true}}}
        ]}))
        .unwrap();
        assert_eq!(criteria, expected);
        // and back: the same tree, the same criteria
        let again = Node::from_criteria(&criteria).to_criteria().unwrap();
        assert_eq!(again, expected);
    }

    #[test]
    fn problems_name_their_node() {
        let form = pairs(&[
            ("k:r", "and"),
            ("k:r.0", "age_at_diagnosis"),
            ("f:r.0:min", "seventy"),
            ("k:r.1", "or"),
        ]);
        let problems = Node::from_form(&form).unwrap().to_criteria().unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["r.0", "r.1"]);
    }

    #[test]
    fn edits_add_and_remove_nodes() {
        let mut tree = Node::group("and");
        tree.children.push(Node::new_leaf(leaf("sex").unwrap()));
        tree.children.push(Node::group("or"));
        tree.at_mut("r.1")
            .unwrap()
            .children
            .push(Node::new_leaf(leaf("lab").unwrap()));
        assert_eq!(tree.children[1].children[0].fields["op"], "<");
        assert!(tree.remove("r.0"));
        assert!(!tree.remove("r"));
        assert_eq!(tree.children.len(), 1);
        assert_eq!(tree.children[0].kind, "or");
    }

    #[test]
    fn imaging_windows_round_trip() {
        let c: Criteria = serde_json::from_value(json!({"imaging": {
            "modality": ["CT", "MR"],
            "after_diagnosis": {"icd10": "C34", "max_days": 90}
        }}))
        .unwrap();
        assert_eq!(Node::from_criteria(&c).to_criteria().unwrap(), c);
    }
}
