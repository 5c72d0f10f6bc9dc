/** The configuration's contracts: type-only, read by every layer above it. */

export type MirrorMode = 'selective' | 'full';

/** One release × one target, and what the mirror serves of it. */
export interface SetConfig {
  release: string;
  /** `target/subtarget`, e.g. `ramips/mt7621`. */
  target: string;
  /** Package architecture; undefined means "take it from profiles.json". */
  arch?: string;
  /** Arch feeds besides core and kmods. */
  feeds: string[];
  mode: MirrorMode;
  required: string[];
  optional: string[];
  /** Device profiles whose images are mirrored; `['all']` (ALL_DEVICES): every profile of the target. */
  devices: string[];
  /** Where the lists came from, for messages: `REQUIRED_PACKAGES`, or the MIRROR_CONFIG file, line and key. */
  sources: { required: string; optional: string; devices: string };
}

export type NotifyEvent = 'failure' | 'recovery' | 'success' | 'change' | 'new-release';

/** Who hears of a run, and of what. */
export interface NotifyConfig {
  on: NotifyEvent[];
  webhookUrl?: string;
  /** nodemailer's SMTP URL: `smtp://user:pass@host:587`, `smtps://host:465`. */
  smtpUrl?: string;
  emailTo: string[];
  emailFrom: string;
}

export type TlsMode = 'off' | 'self-signed';

/** HTTPS beside HTTP: nginx serves whatever certificate is in `dir`; `self-signed` makes one there. */
export interface TlsConfig {
  mode: TlsMode;
  /** DNS names and IP addresses (lowercase, as given) the self-signed certificate is made for. */
  names: string[];
  /** Where the certificate and its key are: the stack's `tls` volume. */
  dir: string;
  /** The host port nginx's HTTPS is published on, for the URLs the log shows. */
  httpsPort: number;
}
