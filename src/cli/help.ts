/** The text of `smtpmail --help`. */
export const HELP = `Usage: smtpmail [options] [--] recipient...     (message on standard input)
       smtpmail -t [options]                       (recipients from To, Cc, Bcc)
       smtpmail -q [options]                       (send the queue; also --flush-queue)
       smtpmail -bp [options]                      (list the queue; also --list-queue)
       smtpmail --check [--check-all] [--json] [options]

Send mail through an SMTP server, as sendmail does (usable as Emacs's
sendmail-program, by git send-email, mutt or cron). Recipients are address
lists, as in a To: field: '"Doe, J" <j@example.org>, k@example.org'.

sendmail options:
  -t               recipients from the To, Cc and Bcc headers (Bcc removed); arguments are added
  -i, -oi          a line with a lone "." does not end the message (without it, it does)
  -f ADDR, -r ADDR envelope sender (MAIL FROM); also the address of a missing From:
  -F NAME          full name for a missing From:
  -a ACCOUNT       use this account of the configuration (as msmtp's -a)
  -bm, -q, -bp     send (the default), send the queue, list the queue
  -N DSN           delivery status notifications: never, or a list of success,failure,delay
  -R RET           a failure notification returns the full message or only its headers: full or hdrs
  -V ENVID         an envelope id returned in notifications (-N, -R, -V go when the server offers DSN)
  -B, -oXXX, -v, -h, -L, -p, -O, -X, -A, -n, -m, -G, -U
                   accepted and ignored (--debug says why)
  -bs, -bd, -bv, -qINTERVAL, -C and other MTA modes are refused
  --               end of options

smtpmail options:
  --server HOST          SMTP server (default: environment SMTPSERVER, or the configuration)
  --port N               port number or service name (smtp, submission, smtps); 465 means implicit TLS
  --stream-type TYPE     plain, starttls (required), ssl or tls (implicit TLS); default: STARTTLS when offered
  --user NAME            login; the password comes from --passwordeval, SMTPMAIL_PASSWORD or authinfo
  --passwordeval CMD     a command that prints the password (run without a shell; one newline removed)
  --authinfo FILE        authinfo/netrc file to search (repeatable; default ~/.authinfo, ~/.authinfo.gpg, ~/.netrc)
  --auth-mechanisms L    comma-separated preference, e.g. SCRAM-SHA-256,PLAIN (default: SCRAM first)
  --local-domain D       EHLO name becomes hostname.D
  --maildomain D         an envelope sender without a domain (-f root) becomes root@D
  --sendto-domain D      appended to recipients without @
  --ca FILE              trust this CA certificate (PEM) for the server
  --config FILE          configuration (default $XDG_CONFIG_HOME/smtpmail/config.json)
  --account NAME         use this account of the configuration (default: the one whose "from" is the From: address)
  --queue                queue the message instead of sending it
  --queue-on-failure     send, and queue the message if that fails for now (greylisting, server down)
  --no-chunking          DATA even when the server offers CHUNKING (BDAT is the default then)
  --require-tls          REQUIRETLS (RFC 8689): every relay must use TLS; not sent at all without verified TLS
                         and a server that offers REQUIRETLS
  --fcc                  append a copy to the files its Fcc: fields name (mbox); without it Fcc is only removed
  --flush-queue          send the queued messages and print a report
  --list-queue           list the queued messages
  --queue-dir DIR        queue directory (default ~/Mail/queued-mail)
  --check                connect, show TLS, certificate, capabilities and whether AUTH works; send nothing
  --check-all            with --check: also try 587 with STARTTLS, 465 with TLS, and 25
  --check-recipient ADDR with --check: also MAIL FROM and RCPT TO ADDR, then RSET (nothing sent)
  --json                 with --check: the report as JSON
  --debug                SMTP transcript on standard error (credentials shown as <omitted>)
  --dry-run              print the envelope and the prepared message; send nothing
  --version, --help

Exit status (sysexits): 0 sent or queued; 64 usage; 65 bad message; 67 no or
refused recipient; 69 server unavailable or refused; 75 temporary failure
(try again later); 76 protocol error; 77 authentication, relaying or TLS
refused; 78 configuration error.
`;
