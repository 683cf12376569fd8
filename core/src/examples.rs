//! The built-in example mesh, embedded so that `meshsim` with no `-f` (and the playground on
//! first visit) has something real to trace: the seed procedure "Exposing a service by using
//! the Istio Gateway and VirtualService resources", which is also the first lab in
//! `scenarios/istio-gateway-ingress`.

use crate::parse::SourceFile;

macro_rules! lab_file {
    ($path:literal) => {
        (
            concat!("scenarios/istio-gateway-ingress/manifests/", $path),
            include_str!(concat!(
                "../../scenarios/istio-gateway-ingress/manifests/",
                $path
            )),
        )
    };
}

pub const BUILTIN: &[(&str, &str)] = &[
    lab_file!("00-control-plane.yaml"),
    lab_file!("10-gateway.yaml"),
    lab_file!("20-httpbin.yaml"),
    lab_file!("30-httpbin-gateway.yaml"),
    lab_file!("40-curl.yaml"),
];

/// The built-in example's files, named as they are in the repository.
pub fn builtin_files() -> Vec<SourceFile> {
    BUILTIN
        .iter()
        .map(|(p, t)| SourceFile::new(*p, t.as_bytes()))
        .collect()
}
