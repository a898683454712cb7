//! JSON has no NaN: serde_json writes a non-finite float as `null`. These
//! read such a `null` back as NaN, so a record survives its round trip (a run
//! without validation data reports a NaN validation loss; a diverged layer a
//! NaN gradient norm).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

pub fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

pub fn pairs_nan_if_null<'de, D, K>(d: D) -> Result<Vec<(K, f32)>, D::Error>
where
    D: Deserializer<'de>,
    K: DeserializeOwned,
{
    let pairs = Vec::<(K, Option<f32>)>::deserialize(d)?;
    Ok(pairs.into_iter().map(|(k, v)| (k, v.unwrap_or(f32::NAN))).collect())
}
