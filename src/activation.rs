//! The hidden layers' transfer function: the one type the config reads, the
//! engine builds and `bench` takes, named as in configs ("relu") with the
//! source material's names ("poslin") accepted as well.

/// Hidden-layer transfer functions, named as in the source material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, clap::ValueEnum)]
pub enum Activation {
    /// poslin: max(0, n).
    #[default]
    Relu,
    /// tansig.
    Tanh,
    /// logsig.
    Sigmoid,
    /// purelin.
    Linear,
}

impl Activation {
    /// The names configs use.
    pub const NAMES: &'static [&'static str] = &["relu", "tanh", "sigmoid", "linear"];
    /// MATLAB's transfer-function names, for users coming from its toolbox.
    pub const ALIASES: &'static [&'static str] = &["poslin", "tansig", "logsig", "purelin"];

    /// Sigmoid-like functions saturate for |n| > 3; the dashboard watches those.
    pub fn saturates(self) -> bool {
        matches!(self, Activation::Tanh | Activation::Sigmoid)
    }

    /// The activation a config name (or its alias) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "relu" | "poslin" => Some(Activation::Relu),
            "tanh" | "tansig" => Some(Activation::Tanh),
            "sigmoid" | "logsig" => Some(Activation::Sigmoid),
            "linear" | "purelin" => Some(Activation::Linear),
            _ => None,
        }
    }

    /// The canonical name, as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Linear => "linear",
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_reads_back() {
        for (name, alias) in Activation::NAMES.iter().zip(Activation::ALIASES) {
            let a = Activation::from_name(name).unwrap();
            assert_eq!(Activation::from_name(alias), Some(a));
            assert_eq!(a.to_string(), *name);
        }
        assert_eq!(Activation::from_name("softmax"), None);
    }
}
