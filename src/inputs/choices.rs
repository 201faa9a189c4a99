//! The inputs that take one of a fixed set of words, each as an enum: the
//! input table lists an enum's words (so `action.yml`, the help and the
//! parser agree), and `RawInputs::choice` returns the variant, so a resolver
//! matches every word with no catch-all.

/// An enum whose variants are the words of one input.
pub trait Choice: Sized + Copy + 'static {
    /// The words, in the order of [`Choice::ALL`].
    const WORDS: &'static [&'static str];
    const ALL: &'static [Self];
}

macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }
        impl Choice for $name {
            const WORDS: &'static [&'static str] = &[$($word),+];
            const ALL: &'static [Self] = &[$(Self::$variant),+];
        }
    };
}

choice!(
    /// `mode`: what the run makes.
    ModeWord { Build = "build", Digest = "digest", Merge = "merge", Bundle = "bundle" }
);
choice!(
    /// `call`: build, or only run BuildKit's build checks.
    CallWord { Build = "build", Check = "check" }
);
choice!(
    /// `driver`: which builder.
    Driver { Auto = "auto", Docker = "docker", DockerContainer = "docker-container" }
);
choice!(
    /// `floating-tags`: whether `latest` and `{{major}}` may move backwards.
    FloatingPolicy { Guard = "guard", Always = "always" }
);
choice!(
    /// `compression` of the layers the build makes; `Default` is BuildKit's.
    CompressionWord { Default = "", Gzip = "gzip", Zstd = "zstd", Estargz = "estargz" }
);
choice!(
    /// `network` of RUN steps; `Unset` passes none.
    NetworkWord { Unset = "", Default = "default", None = "none", Host = "host" }
);
choice!(
    /// `sign`: whether and how the pushed image is signed.
    SignWord { False = "false", Keyless = "keyless", Key = "key" }
);
choice!(
    /// `cross-compile`: whether Go stages that would compile under QEMU are
    /// built from a cross-compiling Dockerfile of the action's.
    CrossCompilePolicy { Off = "false", Auto = "auto" }
);
choice!(
    /// `export`: files to write besides pushing; `Unset` writes none.
    ExportWord { Unset = "", Docker = "docker", Oci = "oci" }
);

/// The word of a variant, as the table lists it.
pub fn word<T: Choice + PartialEq>(value: T) -> &'static str {
    let at = T::ALL.iter().position(|v| *v == value).expect("every variant has a word");
    T::WORDS[at]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_and_variants_pair_up<T: Choice + PartialEq + std::fmt::Debug>() {
        assert_eq!(T::WORDS.len(), T::ALL.len());
        for (at, value) in T::ALL.iter().enumerate() {
            assert_eq!(word(*value), T::WORDS[at], "{value:?}");
        }
    }

    #[test]
    fn every_choice_has_one_word_per_variant() {
        words_and_variants_pair_up::<ModeWord>();
        words_and_variants_pair_up::<CallWord>();
        words_and_variants_pair_up::<Driver>();
        words_and_variants_pair_up::<FloatingPolicy>();
        words_and_variants_pair_up::<CrossCompilePolicy>();
        words_and_variants_pair_up::<CompressionWord>();
        words_and_variants_pair_up::<NetworkWord>();
        words_and_variants_pair_up::<ExportWord>();
        words_and_variants_pair_up::<SignWord>();
    }
}
