//! Platforms (`os/arch[/variant]`): parsing, normalisation to the form
//! BuildKit reports (`arm64` = `arm64/v8`, `arm` = `arm/v7`), the name the
//! QEMU installer takes for each architecture, and which platforms this
//! machine runs without an emulator.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "platforms: `{0}` is not a platform; use os/arch[/variant] such as linux/amd64, linux/arm64, linux/arm/v7 \
     (architectures: amd64, arm64, arm, 386, ppc64le, s390x, riscv64, mips64le, mips64, loong64)"
)]
pub struct PlatformError(pub String);

/// Architecture facts: canonical name, accepted aliases, the variants it may
/// carry, and the default variant.
struct Arch {
    name: &'static str,
    aliases: &'static [&'static str],
    variants: &'static [&'static str],
    default_variant: Option<&'static str>,
}

const ARCHES: &[Arch] = &[
    Arch {
        name: "amd64",
        aliases: &["x86_64", "x86-64"],
        variants: &["v1", "v2", "v3", "v4"],
        default_variant: None,
    },
    Arch { name: "arm64", aliases: &["aarch64"], variants: &["v8", "v9"], default_variant: None },
    Arch {
        name: "arm",
        aliases: &["armhf"],
        variants: &["v5", "v6", "v7"],
        default_variant: Some("v7"),
    },
    Arch { name: "386", aliases: &["i386", "x86"], variants: &[], default_variant: None },
    Arch { name: "ppc64le", aliases: &[], variants: &[], default_variant: None },
    Arch { name: "s390x", aliases: &[], variants: &[], default_variant: None },
    Arch { name: "riscv64", aliases: &[], variants: &[], default_variant: None },
    Arch { name: "mips64le", aliases: &[], variants: &[], default_variant: None },
    Arch { name: "mips64", aliases: &[], variants: &[], default_variant: None },
    Arch { name: "loong64", aliases: &[], variants: &[], default_variant: None },
];

fn arch_facts(name: &str) -> Option<&'static Arch> {
    ARCHES.iter().find(|a| a.name == name || a.aliases.contains(&name))
}

impl Platform {
    /// Parses and normalises one platform string.
    pub fn parse(text: &str) -> Result<Platform, PlatformError> {
        let raw = text.trim();
        let error = || PlatformError(raw.to_string());
        let lower = raw.to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(error()),
        };
        if os != "linux" {
            return Err(error());
        }
        let facts = arch_facts(arch).ok_or_else(error)?;
        let variant = match variant {
            Some(v) if !facts.variants.contains(&v) => return Err(error()),
            // `arm64/v8` and `amd64/v1` are the defaults BuildKit omits.
            Some("v8") if facts.name == "arm64" => None,
            Some("v1") if facts.name == "amd64" => None,
            Some(v) => Some(v.to_string()),
            None => facts.default_variant.map(str::to_string),
        };
        Ok(Platform { os: os.to_string(), arch: facts.name.to_string(), variant })
    }

    /// Parses a comma- or newline-separated list, dropping duplicates.
    pub fn parse_list(text: &str) -> Result<Vec<Platform>, PlatformError> {
        Platform::parse_all(text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()))
    }

    /// Parses each item, dropping duplicates (the first stays in place).
    pub fn parse_all<S: AsRef<str>>(
        items: impl IntoIterator<Item = S>,
    ) -> Result<Vec<Platform>, PlatformError> {
        let mut platforms: Vec<Platform> = Vec::new();
        for item in items {
            let platform = Platform::parse(item.as_ref())?;
            if !platforms.contains(&platform) {
                platforms.push(platform);
            }
        }
        Ok(platforms)
    }

    /// A platform as OCI JSON spells it (an index entry's `platform`, or an
    /// image config): `os`, `architecture` and optional `variant`.
    pub fn from_oci_json(value: &serde_json::Value) -> Option<Platform> {
        let os = value.get("os")?.as_str()?;
        let arch = value.get("architecture")?.as_str()?;
        let text = match value.get("variant").and_then(|v| v.as_str()) {
            Some(variant) => format!("{os}/{arch}/{variant}"),
            None => format!("{os}/{arch}"),
        };
        Platform::parse(&text).ok()
    }

    /// The name the binfmt installer takes (`--install arm64,arm`).
    pub fn installer_arch(&self) -> &str {
        &self.arch
    }

    /// True when a machine that lists `other` can run this platform: the
    /// same os and architecture (variants of one architecture count alike).
    pub fn runs_on(&self, other: &Platform) -> bool {
        self.os == other.os && self.arch == other.arch
    }

    /// The platform of the machine this binary was built for.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "arm" => "arm",
            other => other,
        };
        Platform::parse(&format!("linux/{arch}")).unwrap_or(Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        })
    }

    /// A name usable in file names: `linux-arm-v7`.
    pub fn slug(&self) -> String {
        self.to_string().replace('/', "-")
    }
}

/// What this machine runs without an emulator: its own platform, and the
/// 32-bit one its kernel runs beside it, where it does (386 on amd64; arm on
/// arm64 only when the CPU has AArch32, which many arm64 servers lack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub platform: Platform,
    pub compat: Option<Platform>,
}

impl Machine {
    /// This machine, asked once (the probe changes the process's
    /// personality for an instant, so it runs before any other work).
    pub fn here() -> &'static Machine {
        static MACHINE: std::sync::OnceLock<Machine> = std::sync::OnceLock::new();
        MACHINE.get_or_init(|| {
            let platform = Platform::host();
            let compat = match platform.arch.as_str() {
                "amd64" => Platform::parse("linux/386").ok(),
                "arm64" if kernel_runs_aarch32() => Platform::parse("linux/arm/v7").ok(),
                _ => None,
            };
            Machine { platform, compat }
        })
    }

    /// Whether `platform` runs here without an emulator. Any variant of the
    /// compat architecture counts (arm/v6 and arm/v7 on an AArch32 CPU).
    pub fn runs_natively(&self, platform: &Platform) -> bool {
        platform.runs_on(&self.platform)
            || self.compat.as_ref().is_some_and(|compat| platform.runs_on(compat))
    }
}

/// Whether the kernel runs 32-bit Arm programs: arm64 Linux refuses the
/// `PER_LINUX32` personality when no CPU has AArch32 at EL0.
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
fn kernel_runs_aarch32() -> bool {
    const PER_LINUX32: libc::c_ulong = 0x0008;
    const QUERY: libc::c_ulong = 0xffff_ffff;
    // SAFETY: personality(2) takes and returns plain integers; it changes only
    // how this process's later execs are treated, and the previous value is
    // set back at once, before any work starts.
    unsafe {
        let previous = libc::personality(QUERY);
        let accepted = libc::personality(PER_LINUX32) != -1;
        libc::personality(previous as libc::c_ulong);
        accepted
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "aarch64")))]
fn kernel_runs_aarch32() -> bool {
    false
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.variant {
            Some(variant) => write!(f, "{}/{}/{}", self.os, self.arch, variant),
            None => write!(f, "{}/{}", self.os, self.arch),
        }
    }
}

/// Joins platforms as buildx's `--platform` takes them.
pub fn join(platforms: &[Platform]) -> String {
    platforms.iter().map(Platform::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_normalise() {
        let cases = [
            ("linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/arm64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/aarch64", "linux/arm64"),
            ("Linux/ARM64", "linux/arm64"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/v6", "linux/arm/v6"),
            (" linux/riscv64 ", "linux/riscv64"),
            ("linux/386", "linux/386"),
        ];
        for (input, expected) in cases {
            assert_eq!(Platform::parse(input).unwrap().to_string(), expected, "{input}");
        }
    }

    #[test]
    fn bad_platforms_are_named() {
        for input in [
            "linux/arm65",
            "arm64",
            "windows/amd64",
            "linux/arm64/v7",
            "linux/amd64/v9",
            "",
            "linux/arm/v7/x",
        ] {
            let error = Platform::parse(input).unwrap_err();
            assert_eq!(error.0, input.trim());
            assert!(error.to_string().starts_with("platforms: "), "{error}");
        }
    }

    #[test]
    fn lists_split_on_commas_and_lines_and_drop_duplicates() {
        let list = Platform::parse_list("linux/amd64, linux/arm64\nlinux/aarch64,,").unwrap();
        assert_eq!(join(&list), "linux/amd64,linux/arm64");
    }

    #[test]
    fn oci_json_platforms() {
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(
            Platform::from_oci_json(&json(r#"{"os":"linux","architecture":"arm","variant":"v7"}"#))
                .unwrap()
                .to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::from_oci_json(&json(
                r#"{"os":"linux","architecture":"arm64","variant":"v8"}"#
            ))
            .unwrap()
            .to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::from_oci_json(&json(r#"{"os":"unknown","architecture":"unknown"}"#)),
            None
        );
        assert_eq!(Platform::from_oci_json(&json(r#"{"architecture":"amd64"}"#)), None);
    }

    #[test]
    fn variants_run_alike_and_slugs() {
        let arm = Platform::parse("linux/arm/v7").unwrap();
        assert!(arm.runs_on(&Platform::parse("linux/arm/v6").unwrap()));
        assert!(!arm.runs_on(&Platform::parse("linux/arm64").unwrap()));
        assert_eq!(arm.slug(), "linux-arm-v7");
    }

    #[test]
    fn the_machine_runs_its_own_and_its_compat_platform_natively() {
        let p = |text: &str| Platform::parse(text).unwrap();
        let amd64 = Machine { platform: p("linux/amd64"), compat: Some(p("linux/386")) };
        let arm64_with_aarch32 =
            Machine { platform: p("linux/arm64"), compat: Some(p("linux/arm/v7")) };
        let arm64_without = Machine { platform: p("linux/arm64"), compat: None };
        let cases = [
            (&amd64, "linux/amd64", true),
            (&amd64, "linux/amd64/v3", true),
            (&amd64, "linux/386", true),
            (&amd64, "linux/arm64", false),
            (&arm64_with_aarch32, "linux/arm/v7", true),
            (&arm64_with_aarch32, "linux/arm/v6", true),
            (&arm64_without, "linux/arm/v7", false),
            (&arm64_without, "linux/arm64", true),
            (&arm64_without, "linux/amd64", false),
        ];
        for (machine, platform, native) in cases {
            assert_eq!(machine.runs_natively(&p(platform)), native, "{platform} on {machine:?}");
        }
        assert!(Machine::here().runs_natively(&Platform::host()));
    }
}
