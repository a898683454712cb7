//! MNIST-style IDX files: an images file (magic 0x00000803, u8 pixels) and
//! a labels file (magic 0x00000801, u8 class indices).
//!
//! Pixels are scaled to [0, 1]. Any image rank of at least 2 is accepted and
//! flattened, so `n x 28 x 28` gives 784 features named `px0..px783`.
//! Gzipped files are not supported: decompress them first.

use std::path::Path;

use super::dataset::Dataset;
use super::encoding::Encoding;
use super::error::{io_reason, DataError};

/// The header of an IDX file with u8 elements: its dimensions.
fn parse_header(bytes: &[u8], name: &str, want_rank: &dyn Fn(usize) -> bool) -> Result<(Vec<usize>, usize), DataError> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::new(name, "not an IDX file (bad magic number)"));
    }
    if bytes[2] != 0x08 {
        return Err(DataError::new(
            name,
            format!("IDX element type 0x{:02x} is not supported; expected 0x08 (u8)", bytes[2]),
        ));
    }
    let rank = bytes[3] as usize;
    if !want_rank(rank) {
        return Err(DataError::new(
            name,
            format!("unexpected IDX magic 0x{:08x}", u32::from_be_bytes([0, 0, 8, bytes[3]])),
        ));
    }
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(DataError::new(name, "truncated IDX header"));
    }
    let dims: Vec<usize> =
        bytes[4..header_len].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let body = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| DataError::new(name, "IDX dimensions overflow"))?;
    if bytes.len() - header_len != body {
        return Err(DataError::new(
            name,
            format!("IDX header promises {body} bytes of data, file has {}", bytes.len() - header_len),
        ));
    }
    Ok((dims, header_len))
}

fn read(path: &Path) -> Result<(Vec<u8>, String), DataError> {
    let name = path.display().to_string();
    std::fs::read(path)
        .map(|b| (b, name.clone()))
        .map_err(|e| DataError::new(&name, format!("cannot read: {}", io_reason(&e))))
}

/// Loads an images file and its labels file as a classification data set.
pub fn load_idx(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let (image_bytes, image_name) = read(images)?;
    let (label_bytes, label_name) = read(labels)?;
    let (dims, image_start) = parse_header(&image_bytes, &image_name, &|rank| rank >= 2)?;
    let (label_dims, label_start) = parse_header(&label_bytes, &label_name, &|rank| rank == 1)?;

    let n = dims[0];
    if label_dims[0] != n {
        return Err(DataError::new(
            &label_name,
            format!("has {} labels but {image_name} has {n} images", label_dims[0]),
        ));
    }
    if n == 0 {
        return Err(DataError::new(&image_name, "holds no images"));
    }
    let n_features: usize = dims[1..].iter().product();
    if n_features == 0 {
        return Err(DataError::new(&image_name, "images have no pixels"));
    }

    let features = image_bytes[image_start..].iter().map(|&p| f32::from(p) / 255.0).collect();
    let label_data = &label_bytes[label_start..];
    let targets = label_data.iter().map(|&l| f32::from(l)).collect();
    let n_classes = label_data.iter().copied().max().map_or(0, |m| m as usize + 1);

    let feature_names: Vec<String> = (0..n_features).map(|i| format!("px{i}")).collect();
    Ok(Dataset {
        features,
        targets,
        n_features,
        n_classes,
        encoding: Encoding::numeric("", &feature_names),
        feature_names,
        source: image_name,
    })
}

#[cfg(test)]
pub(crate) fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, images: &[u8], labels: &[u8]) -> (std::path::PathBuf, std::path::PathBuf) {
        let i = dir.join("img.idx3-ubyte");
        let l = dir.join("lbl.idx1-ubyte");
        std::fs::write(&i, images).unwrap();
        std::fs::write(&l, labels).unwrap();
        (i, l)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..3 * 2 * 2).map(|v| (v * 20) as u8).collect();
        let (i, l) = write_pair(dir.path(), &encode(&[3, 2, 2], &pixels), &encode(&[3], &[7, 0, 2]));
        let ds = load_idx(&i, &l).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.n_features, 4);
        assert_eq!(ds.n_classes, 8);
        assert_eq!(ds.targets, vec![7.0, 0.0, 2.0]);
        assert_eq!(ds.row(1), &[80.0 / 255.0, 100.0 / 255.0, 120.0 / 255.0, 140.0 / 255.0]);
        assert_eq!(ds.feature_names[3], "px3");
    }

    #[test]
    fn rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let good_images = encode(&[2, 1, 2], &[1, 2, 3, 4]);
        let good_labels = encode(&[2], &[0, 1]);
        let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
            (b"PK\x03\x04".to_vec(), good_labels.clone(), "not an IDX file"),
            (good_images.clone(), good_images.clone(), "unexpected IDX magic 0x00000803"),
            (good_labels.clone(), good_labels.clone(), "unexpected IDX magic 0x00000801"),
            (encode(&[2, 1, 2], &[1, 2, 3]), good_labels.clone(), "promises 4 bytes of data, file has 3"),
            (good_images.clone(), encode(&[3], &[0, 1, 1]), "has 3 labels but"),
            (vec![0, 0, 0x0d, 3], good_labels.clone(), "element type 0x0d"),
            (vec![0, 0, 8, 3, 0, 0], good_labels.clone(), "truncated IDX header"),
            (encode(&[0, 2, 2], &[]), encode(&[0], &[]), "holds no images"),
            (encode(&[u32::MAX, u32::MAX, u32::MAX], &[]), good_labels.clone(), "overflow"),
        ];
        for (images, labels, want) in cases {
            let (i, l) = write_pair(dir.path(), &images, &labels);
            let msg = load_idx(&i, &l).unwrap_err().to_string();
            assert!(msg.contains(want), "{msg:?} should contain {want:?}");
            assert!(msg.contains(dir.path().to_str().unwrap()), "{msg}");
        }
    }

    #[test]
    fn missing_file_is_named() {
        let e = load_idx(Path::new("/no/img"), Path::new("/no/lbl")).unwrap_err();
        assert_eq!(e.to_string(), "/no/img: cannot read: No such file or directory");
    }
}
