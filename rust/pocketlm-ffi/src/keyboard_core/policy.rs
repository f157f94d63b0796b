//! The field policy (docs/samples.md, "Field policy"): which fields get suggestions and
//! auto-capitalization, as one table read top to bottom (first matching row wins), keyed by the
//! raw Android `inputType` bits. iOS maps its text traits onto the same values
//! (docs/samples.md), so both platforms read this one table.

/// What the keyboard does in a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct KeyboardFieldPolicy {
    /// Suggestions are computed and shown (off: the strip stays empty, the model is never called).
    pub suggestions: bool,
    /// Shift turns on at sentence starts.
    pub auto_capitalize: bool,
}

impl KeyboardFieldPolicy {
    pub(crate) const OFF: Self = Self {
        suggestions: false,
        auto_capitalize: false,
    };
    pub(crate) const ON: Self = Self {
        suggestions: true,
        auto_capitalize: true,
    };
}

/// The bits of Android's `android.text.InputType` the policy reads (same values).
pub(crate) mod bits {
    pub const CLASS_MASK: u32 = 0x0000_000F;
    pub const VARIATION_MASK: u32 = 0x0000_0FF0;
    pub const FLAGS_MASK: u32 = 0x00FF_F000;
    pub const CLASS_TEXT: u32 = 1;
    pub const VARIATION_URI: u32 = 0x10;
    pub const VARIATION_EMAIL_ADDRESS: u32 = 0x20;
    pub const VARIATION_PASSWORD: u32 = 0x80;
    pub const VARIATION_VISIBLE_PASSWORD: u32 = 0x90;
    pub const VARIATION_WEB_EMAIL_ADDRESS: u32 = 0xD0;
    pub const VARIATION_WEB_PASSWORD: u32 = 0xE0;
    pub const FLAG_NO_SUGGESTIONS: u32 = 0x80000;
}

/// One row: a field matches when its class is (or, with `text_class` false, is not) TEXT, its
/// variation is one of `variations` (empty: any) and it has all of `flags`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldRule {
    /// What the row is (test messages).
    #[allow(dead_code)]
    pub name: &'static str,
    pub text_class: bool,
    pub variations: &'static [u32],
    pub flags: u32,
    pub policy: KeyboardFieldPolicy,
}

impl FieldRule {
    pub fn matches(&self, input_type: u32) -> bool {
        let is_text = input_type & bits::CLASS_MASK == bits::CLASS_TEXT;
        if is_text != self.text_class {
            return false;
        }
        if !self.variations.is_empty()
            && !self
                .variations
                .contains(&(input_type & bits::VARIATION_MASK))
        {
            return false;
        }
        input_type & bits::FLAGS_MASK & self.flags == self.flags
    }
}

use bits::*;

/// The table of docs/samples.md, first match wins. The test `table_is_total_and_ordered` checks
/// that the last two rows together match every input type (so the search never fails) and that
/// no row is shadowed by the rows above it.
pub(crate) const FIELD_POLICY_TABLE: &[FieldRule] = &[
    FieldRule {
        name: "not text: null, number, phone, date/time",
        text_class: false,
        variations: &[],
        flags: 0,
        policy: KeyboardFieldPolicy::OFF,
    },
    FieldRule {
        name: "password",
        text_class: true,
        variations: &[
            VARIATION_PASSWORD,
            VARIATION_VISIBLE_PASSWORD,
            VARIATION_WEB_PASSWORD,
        ],
        flags: 0,
        policy: KeyboardFieldPolicy::OFF,
    },
    FieldRule {
        name: "email address or URI",
        text_class: true,
        variations: &[
            VARIATION_EMAIL_ADDRESS,
            VARIATION_WEB_EMAIL_ADDRESS,
            VARIATION_URI,
        ],
        flags: 0,
        policy: KeyboardFieldPolicy::OFF,
    },
    FieldRule {
        name: "text flagged no-suggestions",
        text_class: true,
        variations: &[],
        flags: FLAG_NO_SUGGESTIONS,
        policy: KeyboardFieldPolicy {
            suggestions: false,
            auto_capitalize: true,
        },
    },
    FieldRule {
        name: "any other text",
        text_class: true,
        variations: &[],
        flags: 0,
        policy: KeyboardFieldPolicy::ON,
    },
];

/// The policy of a field from its raw Android `inputType` (iOS: the equivalent value of its
/// text traits, docs/samples.md).
#[uniffi::export]
pub fn keyboard_field_policy(input_type: u32) -> KeyboardFieldPolicy {
    FIELD_POLICY_TABLE
        .iter()
        .find(|r| r.matches(input_type))
        .map_or(KeyboardFieldPolicy::OFF, |r| r.policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_total_and_ordered() {
        // Every class, every variation, with and without each flag bit: some row matches.
        let mut seen = vec![false; FIELD_POLICY_TABLE.len()];
        for class in 0..16u32 {
            for variation in 0..256u32 {
                for flags in [0, FLAG_NO_SUGGESTIONS, 0x4000, 0x20000, 0x80000 | 0x4000] {
                    let t = class | (variation << 4) | flags;
                    let row = FIELD_POLICY_TABLE.iter().position(|r| r.matches(t));
                    let row = row.unwrap_or_else(|| panic!("no row matches 0x{t:x}"));
                    seen[row] = true;
                }
            }
        }
        // No row is dead (shadowed by the rows above it).
        for (i, s) in seen.iter().enumerate() {
            assert!(
                s,
                "row {} ({}) never matches first",
                i, FIELD_POLICY_TABLE[i].name
            );
        }
        // The last row is the catch-all for text.
        let last = FIELD_POLICY_TABLE.last().unwrap();
        assert!(last.text_class && last.variations.is_empty() && last.flags == 0);
    }

    /// The raw values Android's `InputType` constants combine to (from the Android SDK's
    /// documentation of `android.text.InputType`), with the policy docs/samples.md gives them.
    #[test]
    fn field_policy_over_raw_input_type_values() {
        let on = KeyboardFieldPolicy::ON;
        let off = KeyboardFieldPolicy::OFF;
        let caps_only = KeyboardFieldPolicy {
            suggestions: false,
            auto_capitalize: true,
        };
        let cases = [
            (0x0000_0001, on, "TEXT"),
            (0x0000_4001, on, "TEXT | CAP_SENTENCES"),
            (0x0002_0001, on, "TEXT | MULTI_LINE"),
            (0x0000_0061, on, "TEXT | PERSON_NAME"),
            (0x0000_0041, on, "TEXT | SHORT_MESSAGE"),
            (0x0000_0000, off, "NULL"),
            (0x0000_0002, off, "NUMBER"),
            (0x0000_1002, off, "NUMBER | SIGNED"),
            (0x0000_0012, off, "NUMBER_PASSWORD (class NUMBER)"),
            (0x0000_0003, off, "PHONE"),
            (0x0000_0004, off, "DATETIME"),
            (0x0000_0014, off, "DATETIME | DATE"),
            (0x0000_0081, off, "TEXT | PASSWORD"),
            (0x0000_0091, off, "TEXT | VISIBLE_PASSWORD"),
            (0x0000_00E1, off, "TEXT | WEB_PASSWORD"),
            (0x0000_0021, off, "TEXT | EMAIL_ADDRESS"),
            (0x0000_00D1, off, "TEXT | WEB_EMAIL_ADDRESS"),
            (0x0000_0011, off, "TEXT | URI"),
            (0x0008_0001, caps_only, "TEXT | NO_SUGGESTIONS"),
            (0x000C_4001, caps_only, "+ CAP_SENTENCES, IME_MULTI_LINE"),
            (
                0x0008_0081,
                off,
                "a password flagged no-suggestions is a password",
            ),
        ];
        for (t, policy, what) in cases {
            assert_eq!(
                keyboard_field_policy(t),
                policy,
                "inputType 0x{t:x} ({what})"
            );
        }
    }
}
