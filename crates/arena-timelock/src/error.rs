//! The one error type of the crate.

/// Why a ciphertext, a signature or a commit payload was refused.
///
/// Every refusal of hostile or damaged input is one of these variants; nothing in this crate
/// panics on input bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The ciphertext ended inside a field.
    #[error("timelock ciphertext ends early, inside {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A length prefix announces more bytes than the ciphertext has left.
    #[error("timelock ciphertext field {field} announces {len} bytes, only {left} are left")]
    LengthPastEnd {
        /// The field whose length prefix is wrong.
        field: &'static str,
        /// The announced length.
        len: u64,
        /// The bytes left after the prefix.
        left: usize,
    },
    /// A fixed-size field has another length.
    #[error("timelock ciphertext field {field} is {len} bytes, expected {expected}")]
    FieldLength {
        /// The field.
        field: &'static str,
        /// Its length in the ciphertext.
        len: u64,
        /// The length the scheme uses.
        expected: usize,
    },
    /// Bytes follow the last field.
    #[error("{0} bytes follow the timelock ciphertext")]
    TrailingBytes(usize),
    /// The whole input is longer than allowed.
    #[error("timelock ciphertext is {len} bytes, more than the {max} accepted")]
    TooLong {
        /// The input's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header's point `U` is not a compressed G2 point of the prime-order subgroup.
    #[error("timelock header point is not a valid compressed G2 point")]
    InvalidHeaderPoint,
    /// The cipher suite is not `AES_GCM_`, the only one the chain writes.
    #[error("unsupported timelock cipher suite {0:?} (expected \"AES_GCM_\")")]
    UnsupportedCipherSuite(String),
    /// The signature bytes are not a compressed G1 point of the prime-order subgroup.
    #[error("drand signature is not a valid compressed G1 point (48 bytes)")]
    InvalidSignatureEncoding,
    /// The signature is not quicknet's signature of the round.
    #[error("the signature is not drand quicknet's signature for round {0}")]
    SignatureNotForRound(u64),
    /// The signature does not open the header: it belongs to another round, or the header
    /// was altered.
    #[error(
        "the signature does not open this timelock ciphertext (other round, or altered header)"
    )]
    WrongSignature,
    /// The body failed AES-GCM authentication: it was altered.
    #[error("the timelock body fails AES-GCM authentication (altered ciphertext)")]
    BodyAuthentication,
    /// The decrypted plaintext is not a SCALE `WeightsTlockPayload`.
    #[error("the decrypted commit is not a SCALE WeightsTlockPayload: {0}")]
    Payload(String),
    /// `uids` and `values` differ in length.
    #[error("{uids} uids but {values} weight values")]
    WeightsMismatch {
        /// Number of uids.
        uids: usize,
        /// Number of values.
        values: usize,
    },
    /// The sealed commit exceeds what `commit_timelocked_weights` accepts.
    #[error("the sealed commit is {len} bytes, over Subtensor's limit of {max}")]
    CommitTooLarge {
        /// The commit's length.
        len: usize,
        /// Subtensor's `MAX_CRV3_COMMIT_SIZE_BYTES`.
        max: usize,
    },
    /// The reveal-round computation cannot proceed (tempo 0: the subnet runs no epochs; or
    /// the epoch simulation found no reveal block within its bound).
    #[error("no reveal round: {0}")]
    Schedule(&'static str),
}
