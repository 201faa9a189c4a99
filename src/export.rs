//! Files from the build: the native platform loaded into the daemon, a
//! tarball per platform (`docker load` or OCI), one multi-platform OCI
//! tarball, and `SHA256SUMS` over them; all answered from the build cache.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::buildx::Buildx;
use crate::digest::Digest;
use crate::log::Log;
use crate::plan::{Build, Builder, Export, ExportFormat, HeldBack, RunSettings};
use crate::platform::Platform;

/// Saves the image as files (`export`) and loads the native platform into
/// the daemon (`load`); both are answered from the build cache.
pub(crate) async fn export(
    run: &RunSettings,
    build: &Build,
    buildx: &Buildx,
    builder: &Builder,
    held: &[HeldBack],
    log: &Log,
) -> Result<Vec<PathBuf>> {
    let tag = build.references(held).into_iter().next();
    if run.load() {
        let host = Platform::host();
        buildx
            .build(
                &build.buildx_output_args(
                    run,
                    builder,
                    std::slice::from_ref(&host),
                    "type=docker",
                    tag.as_deref(),
                ),
                |l| log.raw(l),
            )
            .await?;
        log.info(&format!(
            "loaded {} for {host} into the daemon",
            tag.as_deref().unwrap_or(&build.image().name)
        ));
    }
    let Some(Export { format, dir }) = run.export() else { return Ok(Vec::new()) };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("export-dir: could not create {}", dir.display()))?;
    let stem = build.image().repository.replace('/', "-");
    let kind = match format {
        ExportFormat::Docker => "docker",
        ExportFormat::Oci => "oci",
    };
    let mut files = Vec::new();
    for platform in build.platforms() {
        let file = dir.join(format!("{stem}-{}.tar", platform.slug()));
        let output = format!("type={kind},dest={}", file.display());
        buildx
            .build(
                &build.buildx_output_args(
                    run,
                    builder,
                    std::slice::from_ref(platform),
                    &output,
                    tag.as_deref(),
                ),
                |l| log.raw(l),
            )
            .await?;
        files.push(file);
    }
    let all = dir.join(format!("{stem}.oci.tar"));
    let output = format!("type=oci,dest={}", all.display());
    buildx
        .build(
            &build.buildx_output_args(run, builder, build.platforms(), &output, tag.as_deref()),
            |l| log.raw(l),
        )
        .await?;
    files.push(all);
    let sums = checksums(&files)?;
    let sums_file = dir.join("SHA256SUMS");
    std::fs::write(&sums_file, sums)
        .with_context(|| format!("could not write {}", sums_file.display()))?;
    for file in &files {
        log.info(&format!("exported {}", file.display()));
    }
    files.push(sums_file);
    Ok(files)
}

/// `SHA256SUMS` lines (`digest  name`) for the files, as `sha256sum -c` reads them.
fn checksums(files: &[PathBuf]) -> Result<String> {
    use sha2::Digest as _;
    let mut text = String::new();
    for file in files {
        let mut hasher = sha2::Sha256::new();
        let mut reader = std::fs::File::open(file)
            .with_context(|| format!("could not open {}", file.display()))?;
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let read = std::io::Read::read(&mut reader, &mut chunk)
                .with_context(|| format!("could not read {}", file.display()))?;
            if read == 0 {
                break;
            }
            hasher.update(&chunk[..read]);
        }
        let digest = Digest::from_hasher(hasher);
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        text.push_str(&format!("{}  {name}\n", digest.hex()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_read_as_sha256sum_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app-linux-amd64.tar");
        std::fs::write(&file, b"abc").unwrap();
        assert_eq!(
            checksums(&[file]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  app-linux-amd64.tar\n"
        );
    }
}
