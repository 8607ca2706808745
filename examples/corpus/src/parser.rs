//! A tiny key=value parser.
use std::collections::HashMap;

pub fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses() {
        // Fake token used only as test input.
        let m = super::parse("token = ghp_FAKELYjSl9oh5T4OX8dKU5BxKPknyjbL65ZN\n");
        assert_eq!(m.len(), 1);
    }
}
