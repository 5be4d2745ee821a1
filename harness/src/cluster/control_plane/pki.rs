//! The certificates and keys of a set of real control planes: one CA that
//! every cluster trusts (so one kubeconfig holds them all), a serving
//! certificate for the API servers, client certificates (CN = user, O =
//! group, as kube-apiserver reads them) and service-account signing keys.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A certificate and its private key, PEM.
#[derive(Clone, Debug)]
pub struct CertPair {
    /// The certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

/// The shared CA.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// The names kube-apiserver's serving certificate must carry: loopback,
/// and the in-cluster names clients use.
const SERVING_NAMES: [&str; 6] = [
    "127.0.0.1",
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

impl Pki {
    /// A new CA.
    pub fn generate() -> Result<Pki, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "mcsdns control plane CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ok(Pki {
            ca: CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?,
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// The API servers' serving certificate.
    pub fn serving(&self) -> Result<CertPair, rcgen::Error> {
        let names: Vec<String> = SERVING_NAMES.iter().map(|s| (*s).to_owned()).collect();
        let mut p = CertificateParams::new(names)?;
        p.distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(p)
    }

    /// A client certificate for `user`, in `group` if given
    /// (`system:masters` makes it an administrator).
    pub fn client(&self, user: &str, group: Option<&str>) -> Result<CertPair, rcgen::Error> {
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::CommonName, user);
        if let Some(g) = group {
            p.distinguished_name.push(DnType::OrganizationName, g);
        }
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(p)
    }

    fn sign(&self, params: CertificateParams) -> Result<CertPair, rcgen::Error> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca)?;
        Ok(CertPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// A service-account signing key pair (ECDSA P-256, which kube-apiserver
/// signs ES256 tokens with), PEM: the private key and the public key.
pub fn service_account_keys() -> Result<(String, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}
