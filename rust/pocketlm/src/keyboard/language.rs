//! The language a predictor suggests words in. It chooses the framing (the text before every
//! context, `framings.tsv`) and so tells the model which language the field is written in; a
//! multilingual model (Gemma 3 270M) is needed for any language but English. User words
//! belong to a predictor, so an app keeps one dictionary per language (one predictor each).

/// A language of the keyboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Language {
    /// English (the default).
    #[default]
    En,
    /// Spanish.
    Es,
    /// German.
    De,
    /// French.
    Fr,
    /// Portuguese.
    Pt,
    /// Italian.
    It,
}

impl Language {
    /// Every language, in a stable order.
    pub const ALL: [Language; 6] = [
        Language::En,
        Language::Es,
        Language::De,
        Language::Fr,
        Language::Pt,
        Language::It,
    ];

    /// The ISO 639-1 code: `en`, `es`, `de`, `fr`, `pt` or `it`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
            Language::De => "de",
            Language::Fr => "fr",
            Language::Pt => "pt",
            Language::It => "it",
        }
    }

    /// Parses an ISO 639-1 code (any case; a region such as `pt-BR` or `es_MX` is ignored).
    pub fn parse(code: &str) -> Option<Self> {
        let base = code.split(['-', '_']).next().unwrap_or("");
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in Language::ALL {
            assert_eq!(Language::parse(l.as_str()), Some(l));
        }
        assert_eq!(Language::parse("pt-BR"), Some(Language::Pt));
        assert_eq!(Language::parse("ES_mx"), Some(Language::Es));
        assert_eq!(Language::parse("nl"), None);
        assert_eq!(Language::parse(""), None);
    }
}
