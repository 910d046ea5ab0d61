//! A small FHIR XML → FHIR JSON reader for tests: enough for the MII Consent
//! examples (elements, `value`/`url`/`id` attributes, comments, the XML
//! declaration). Which elements repeat (become JSON arrays) follows the FHIR
//! R4 cardinalities of the elements these resources use.

use serde_json::{Map, Value};

/// One XML element.
#[derive(Debug)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

/// Elements with cardinality `0..*` in the resources read here.
const REPEATING: &[&str] = &[
    "extension",
    "modifierExtension",
    "category",
    "coding",
    "policy",
    "organization",
    "identifier",
    "actor",
    "action",
    "securityLabel",
    "purpose",
    "class",
    "data",
    "verification",
    "performer",
    "profile",
    "sourceAttachment",
    "concept",
    "property",
];

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Parses the document into its root element.
fn parse(xml: &str) -> Result<Node, String> {
    let mut stack: Vec<Node> = Vec::new();
    let mut rest = xml;
    let mut root = None;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").ok_or("unterminated comment")?;
            rest = &r[end + 3..];
        } else if let Some(r) = rest.strip_prefix("<?") {
            let end = r.find("?>").ok_or("unterminated declaration")?;
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or("unterminated end tag")?;
            let name = r[..end].trim();
            let node = stack.pop().ok_or("end tag without start")?;
            if node.name != name {
                return Err(format!("</{name}> closes <{}>", node.name));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(node),
                None => root = Some(node),
            }
            rest = &r[end + 1..];
        } else {
            let end = rest.find('>').ok_or("unterminated tag")?;
            let tag = &rest[1..end];
            let (tag, closed) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let name_end = tag
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(tag.len());
            let mut node = Node {
                name: tag[..name_end].to_owned(),
                attrs: Vec::new(),
                children: Vec::new(),
            };
            let mut a = tag[name_end..].trim_start();
            while !a.is_empty() {
                let eq = a.find('=').ok_or("attribute without value")?;
                let key = a[..eq].trim().to_owned();
                let v = a[eq + 1..].trim_start();
                let quote = v.chars().next().ok_or("missing quote")?;
                let close = v[1..].find(quote).ok_or("unterminated attribute")?;
                node.attrs.push((key, unescape(&v[1..1 + close])));
                a = v[close + 2..].trim_start();
            }
            if closed {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            } else {
                stack.push(node);
            }
            rest = &rest[end + 1..];
        }
    }
    if !stack.is_empty() {
        return Err("unclosed elements".into());
    }
    root.ok_or_else(|| "no root element".into())
}

fn attr<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    n.attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn repeats(child: &str, parent: &str) -> bool {
    REPEATING.contains(&child)
        // Consent.provision is 0..1, provision.provision and provision.code 0..*.
        || (parent == "provision" && (child == "provision" || child == "code"))
}

fn to_json(n: &Node) -> Value {
    if n.children.is_empty()
        && let Some(v) = attr(n, "value")
    {
        return match n.name.as_str() {
            "valueBoolean" => Value::Bool(v == "true"),
            _ => Value::String(v.to_owned()),
        };
    }
    let mut obj = Map::new();
    for key in ["id", "url"] {
        if let Some(v) = attr(n, key) {
            obj.insert(key.to_owned(), Value::String(v.to_owned()));
        }
    }
    for c in &n.children {
        let v = to_json(c);
        if repeats(&c.name, &n.name) {
            match obj
                .entry(c.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(items) => items.push(v),
                other => *other = Value::Array(vec![other.clone(), v]),
            }
        } else {
            obj.insert(c.name.clone(), v);
        }
    }
    Value::Object(obj)
}

/// Converts a FHIR XML resource to FHIR JSON.
pub fn resource_to_json(xml: &str) -> Result<Value, String> {
    let root = parse(xml)?;
    let mut v = to_json(&root);
    if let Value::Object(obj) = &mut v {
        obj.insert("resourceType".into(), Value::String(root.name.clone()));
    }
    Ok(v)
}
