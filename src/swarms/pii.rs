//! The personal-data check every draft passes before it is proposed: member names, emails,
//! uids, phone numbers and free-text notes from records never reach a draft's body.
//!
//! Templates can only name fields that hold no personal data (see `marketing`), so this check is
//! the second line: it looks for anything shaped like an email address or a phone number, and
//! for the value of every personal field of the records the draft was written from.
//!
//! Architecture Invariant: a refusal names the kind of data found, never the data itself.

use serde_json::Value;

/// Whether a field (by its name) holds personal data: uids, emails, phone numbers, people's
/// names and free-text notes.
pub fn is_personal_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with("uid")
        || lower.contains("email")
        || lower.contains("phone")
        || matches!(
            lower.as_str(),
            "notes"
                | "note"
                | "displayname"
                | "membername"
                | "ownername"
                | "firstname"
                | "lastname"
                | "fullname"
                | "reportername"
                | "staffname"
                | "comment"
                | "comments"
                | "message"
                | "description"
        )
}

/// Every text value of a personal field in `fields`, at any depth.
fn personal_values<'a>(fields: &'a Value, out: &mut Vec<&'a str>) {
    match fields {
        Value::Object(map) => {
            for (name, value) in map {
                if is_personal_field(name) {
                    collect_text(value, out);
                } else {
                    personal_values(value, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                personal_values(item, out);
            }
        }
        _ => {}
    }
}

fn collect_text<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| collect_text(item, out)),
        Value::Object(map) => map.values().for_each(|item| collect_text(item, out)),
        _ => {}
    }
}

fn has_email(body: &str) -> bool {
    body.split(|character: char| character.is_whitespace() || "<>()[],;:\"'".contains(character))
        .any(|word| {
            let Some((local, domain)) = word.split_once('@') else {
                return false;
            };
            !local.is_empty()
                && domain
                    .trim_end_matches('.')
                    .split_once('.')
                    .is_some_and(|(host, tld)| !host.is_empty() && tld.len() >= 2)
        })
}

fn has_phone(body: &str) -> bool {
    // Runs of digits and the separators phone numbers are written with; a run with seven or
    // more digits is a phone number unless it is a date (`2026-12-03`).
    body.split(|character: char| {
        !(character.is_ascii_digit() || matches!(character, ' ' | '-' | '.' | '(' | ')' | '+'))
    })
    .any(|run| {
        let run = run.trim_matches(|character: char| !character.is_ascii_digit());
        let digits = run.chars().filter(char::is_ascii_digit).count();
        let is_date = run.len() == 10
            && run.char_indices().all(|(index, character)| {
                if index == 4 || index == 7 {
                    character == '-'
                } else {
                    character.is_ascii_digit()
                }
            });
        digits >= 7 && !is_date
    })
}

/// The kinds of personal data `body` holds, checked against the records it was written from;
/// empty when it is clean.
pub fn check(body: &str, records: &[&Value]) -> Vec<&'static str> {
    let mut found = Vec::new();
    if has_email(body) {
        found.push("an email address");
    }
    if has_phone(body) {
        found.push("a phone number");
    }
    let lower = body.to_lowercase();
    let mut values = Vec::new();
    for record in records {
        personal_values(record, &mut values);
    }
    if values.iter().any(|value| {
        let value = value.trim().to_lowercase();
        value.chars().count() >= 3 && lower.contains(&value)
    }) {
        found.push("a personal field of the record (a uid, a name, a note)");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_phones_and_personal_fields_are_found() {
        let record = json!({
            "ownerUid": "m-ana-7731",
            "kilnName": "Skutt 1027",
            "notes": "Call Ana about the pickup",
            "nested": { "memberEmail": "ana@example.com" },
            "items": [{ "name": "B-Mix 25 lb" }]
        });
        assert!(check("Fresh out of Skutt 1027 today", &[&record]).is_empty());
        assert!(
            check("B-Mix 25 lb is back in stock", &[&record]).is_empty(),
            "a product's name is not personal"
        );
        assert_eq!(
            check("Thanks m-ana-7731!", &[&record]),
            vec!["a personal field of the record (a uid, a name, a note)"]
        );
        assert_eq!(
            check("call ana about the pickup", &[&record]).len(),
            1,
            "a note, in any case"
        );
        assert_eq!(
            check("Write to ana@example.com", &[]),
            vec!["an email address"]
        );
        assert_eq!(check("Call (555) 123-4567", &[]), vec!["a phone number"]);
        assert!(check("Open 10am to 4pm, 3 kilns, cone 6", &[]).is_empty());
        assert!(check("2026-12-03", &[]).is_empty(), "a date is not a phone");
        assert!(check("see you @ the studio.", &[]).is_empty());
    }

    #[test]
    fn personal_fields_are_named_by_shape() {
        for name in [
            "ownerUid",
            "unloadedByUid",
            "email",
            "memberEmail",
            "phoneNumber",
            "notes",
        ] {
            assert!(is_personal_field(name), "{name}");
        }
        for name in ["kilnName", "name", "title", "status", "cycleType"] {
            assert!(!is_personal_field(name), "{name}");
        }
    }
}
