import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.message.MongoMessage;
import de.bwaldvogel.mongo.wire.message.MongoQuery;
import io.netty.channel.Channel;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The local MongoDB wire-protocol server: mongo-java-server on a loopback port.
 *
 * <pre>
 *   java -cp CLASSES:LIB/* Launcher --port 57017 [--host 127.0.0.1] --backend memory
 *   java -cp CLASSES:LIB/* Launcher --port 57017 --backend h2 --file .stack/mongo-data/data.mv
 *   java -cp CLASSES:LIB/* Launcher --port 57017 --backend memory \
 *       --tls-host 10.0.0.1 --tls-port 57443 --tls-cert server.pem --tls-key server.key
 * </pre>
 *
 * The memory backend starts empty every time (tests, throwaway instances); the H2 backend keeps
 * everything in one MVStore file across restarts (scripts/run). SIGTERM closes the backend
 * cleanly, so the H2 file is complete on disk when the process exits.
 *
 * <p>The {@code --tls-*} options add a second listener that speaks TLS only, over the same
 * backend (the same data), the way DocumentDB is reached ({@code tls=true} and a CA file): PEM
 * files, the certificate chain (server certificate first) and its unencrypted PKCS#8 private key
 * (RSA or EC). The plain listener stays: the stack's readiness probe speaks plain wire protocol.
 * The TLS listener is bound first, so once the plain one answers, both do.
 */
public final class Launcher {

    /**
     * PyMongo 4.20 refuses servers below wire version 9 (MongoDB 4.4); the library's own
     * {@code ServerVersion} tops out at wire 8, so the server reports 4.4 / 9. The commands the
     * service sends (CRUD, indexes, findAndModify, aggregate) are served alike at both.
     */
    private static final MongoVersion MONGO_4_4 = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    private Launcher() {
    }

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = -1;
        String backendName = "memory";
        String file = null;
        String tlsHost = null;
        int tlsPort = -1;
        String tlsCert = null;
        String tlsKey = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (arg) {
                case "--host" -> host = require(arg, value);
                case "--port" -> port = parsePort(arg, value);
                case "--backend" -> backendName = require(arg, value);
                case "--file" -> file = require(arg, value);
                case "--tls-host" -> tlsHost = require(arg, value);
                case "--tls-port" -> tlsPort = parsePort(arg, value);
                case "--tls-cert" -> tlsCert = require(arg, value);
                case "--tls-key" -> tlsKey = require(arg, value);
                default -> fail("unknown argument " + arg);
            }
            i++;
        }
        if (port == -1) {
            fail("--port PORT is required (1-65535)");
        }
        boolean tls = tlsHost != null || tlsPort != -1 || tlsCert != null || tlsKey != null;
        if (tls && (tlsPort == -1 || tlsCert == null || tlsKey == null)) {
            fail("a TLS listener needs --tls-port PORT, --tls-cert CERT.pem and --tls-key KEY.pem");
        }
        // read the TLS material before anything is opened: a bad file changes nothing on disk
        TlsMaterial material = tls ? TlsMaterial.read(Path.of(tlsCert), Path.of(tlsKey)) : null;
        String tlsBindHost = tlsHost != null ? tlsHost : host;

        MongoBackend backend;
        String described;
        switch (backendName) {
            case "memory" -> {
                backend = new MemoryBackend();
                described = "memory backend (empty at each start)";
            }
            case "h2" -> {
                if (file == null) {
                    fail("--backend h2 needs --file PATH");
                }
                Path path = Path.of(file).toAbsolutePath();
                Files.createDirectories(path.getParent());
                backend = new H2Backend(path.toString());
                described = "H2 backend, file " + path;
            }
            default -> {
                fail("--backend must be memory or h2, not " + backendName);
                return;
            }
        }
        backend.version(MONGO_4_4);

        MongoServer server = new MongoServer(backend);
        MongoServer tlsServer = null;
        if (material != null) {
            // a second server over the same backend; it must not close the backend on shutdown
            // (the plain server does, once, after both stopped serving)
            tlsServer = new MongoServer(new SharedBackend(backend));
            try {
                tlsServer.enableSsl(material.key(), null, material.chain());
            } catch (RuntimeException e) {
                fail("--tls-cert " + tlsCert + " and --tls-key " + tlsKey
                        + ": no TLS context from them: " + rootMessage(e));
            }
            bindOrFail(tlsServer, tlsBindHost, tlsPort, "TLS ", backend);
        }
        bindOrFail(server, host, port, "", backend);
        log("listening on " + host + ":" + port + ", " + described + ", reporting MongoDB "
                + MONGO_4_4.toVersionString() + " (wire " + MONGO_4_4.getWireVersion() + ")");
        if (material != null) {
            X509Certificate leaf = material.chain()[0];
            log("TLS listener on " + tlsBindHost + ":" + tlsPort + ", certificate "
                    + leaf.getSubjectX500Principal().getName() + ", "
                    + leaf.getPublicKey().getAlgorithm() + " key, valid until "
                    + leaf.getNotAfter().toInstant());
        }

        MongoServer tlsListener = tlsServer;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("stopping");
            if (tlsListener != null) {
                tlsListener.shutdownNow();
            }
            // shutdownNow closes the connections and then the backend (H2: the MVStore file)
            server.shutdownNow();
            log("stopped");
            stopped.countDown();
        }, "mongo-server-shutdown"));
        stopped.await();
    }

    private static void bindOrFail(MongoServer server, String host, int port, String what,
            MongoBackend backend) {
        try {
            server.bind(host, port);
        } catch (Exception e) { // Netty throws the checked BindException undeclared
            server.shutdownNow(); // its event loops would keep the JVM alive
            backend.close(); // a TLS server leaves the shared backend open; closing twice is ok
            fail("cannot listen " + what + "on " + host + ":" + port + ": " + rootMessage(e));
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause.getMessage() != null ? cause.getMessage() : cause.toString();
    }

    private static int parsePort(String name, String value) {
        String text = require(name, value);
        try {
            int port = Integer.parseInt(text);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        fail(name + " must be a port number (1-65535), not " + text);
        return -1;
    }

    /** The TLS listener's certificate chain and private key, read from PEM files. */
    private record TlsMaterial(X509Certificate[] chain, PrivateKey key) {

        private static final Pattern PEM = Pattern.compile(
                "-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

        static TlsMaterial read(Path certPath, Path keyPath) {
            X509Certificate[] chain = readChain(certPath);
            PrivateKey key = readKey(keyPath);
            X509Certificate leaf = chain[0];
            if (!belongTogether(key, leaf)) {
                fail("--tls-key " + keyPath + " is not the private key of the certificate in "
                        + certPath + " (" + leaf.getSubjectX500Principal().getName() + ")");
            }
            try {
                leaf.checkValidity();
            } catch (CertificateException e) {
                fail("--tls-cert " + certPath + ": the certificate is valid only from "
                        + leaf.getNotBefore().toInstant() + " to " + leaf.getNotAfter().toInstant()
                        + ", not now (" + Instant.now() + ")");
            }
            return new TlsMaterial(chain, key);
        }

        private static X509Certificate[] readChain(Path path) {
            List<byte[]> blocks = blocks("--tls-cert", path, "CERTIFICATE");
            if (blocks.isEmpty()) {
                fail("--tls-cert " + path + ": no PEM certificate in it "
                        + "(expected -----BEGIN CERTIFICATE-----)");
            }
            List<X509Certificate> chain = new ArrayList<>();
            try {
                CertificateFactory factory = CertificateFactory.getInstance("X.509");
                for (byte[] der : blocks) {
                    chain.add((X509Certificate) factory.generateCertificate(
                            new ByteArrayInputStream(der)));
                }
            } catch (CertificateException e) {
                fail("--tls-cert " + path + ": not a readable X.509 certificate: "
                        + rootMessage(e));
            }
            return chain.toArray(new X509Certificate[0]);
        }

        private static PrivateKey readKey(Path path) {
            String text = readText("--tls-key", path);
            if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
                fail("--tls-key " + path + ": the key is encrypted; give it unencrypted "
                        + "(openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8)");
            }
            Matcher legacy = Pattern.compile("-----BEGIN (RSA|EC) PRIVATE KEY-----").matcher(text);
            if (legacy.find()) {
                fail("--tls-key " + path + ": a traditional " + legacy.group(1) + " key; give it "
                        + "as PKCS#8 (openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8)");
            }
            List<byte[]> blocks = blocks("--tls-key", path, "PRIVATE KEY");
            if (blocks.size() != 1) {
                fail("--tls-key " + path + ": expected one PEM block -----BEGIN PRIVATE KEY----- "
                        + "(PKCS#8), found " + blocks.size());
            }
            PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(blocks.get(0));
            for (String algorithm : List.of("RSA", "EC")) {
                try {
                    return KeyFactory.getInstance(algorithm).generatePrivate(spec);
                } catch (InvalidKeySpecException e) {
                    // not this algorithm; try the next
                } catch (GeneralSecurityException e) {
                    fail("--tls-key " + path + ": " + rootMessage(e));
                }
            }
            fail("--tls-key " + path + ": not a readable PKCS#8 RSA or EC private key");
            return null;
        }

        /** Signs with the key and verifies with the certificate's public key. */
        private static boolean belongTogether(PrivateKey key, X509Certificate certificate) {
            if (!key.getAlgorithm().equals(certificate.getPublicKey().getAlgorithm())) {
                return false;
            }
            String algorithm =
                    key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
            byte[] probe = "biwoco mongo-server key check".getBytes(StandardCharsets.US_ASCII);
            try {
                Signature signer = Signature.getInstance(algorithm);
                signer.initSign(key);
                signer.update(probe);
                byte[] signature = signer.sign();
                Signature verifier = Signature.getInstance(algorithm);
                verifier.initVerify(certificate.getPublicKey());
                verifier.update(probe);
                return verifier.verify(signature);
            } catch (GeneralSecurityException e) {
                return false;
            }
        }

        /** The base64-decoded bodies of the PEM blocks labelled `label`, in file order. */
        private static List<byte[]> blocks(String option, Path path, String label) {
            String text = readText(option, path);
            List<byte[]> blocks = new ArrayList<>();
            Matcher matcher = PEM.matcher(text);
            while (matcher.find()) {
                if (matcher.group(1).equals(label)) {
                    try {
                        blocks.add(Base64.getMimeDecoder().decode(matcher.group(2)));
                    } catch (IllegalArgumentException e) {
                        fail(option + " " + path + ": a " + label + " block is not valid base64");
                    }
                }
            }
            return blocks;
        }

        private static String readText(String option, Path path) {
            try {
                return Files.readString(path, StandardCharsets.US_ASCII);
            } catch (NoSuchFileException e) {
                fail(option + " " + path + ": no such file");
            } catch (IOException e) {
                fail(option + " " + path + ": cannot read it: " + rootMessage(e));
            }
            return null;
        }
    }

    /** A backend seen through a second server: everything delegated except close(). */
    private record SharedBackend(MongoBackend backend) implements MongoBackend {

        @Override
        public void handleClose(Channel channel) {
            backend.handleClose(channel);
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command,
                Document query) {
            return backend.handleCommand(channel, database, command, query);
        }

        @Override
        public QueryResult handleQuery(MongoQuery query) {
            return backend.handleQuery(query);
        }

        @Override
        public Document handleMessage(MongoMessage message) {
            return backend.handleMessage(message);
        }

        @Override
        public void dropDatabase(String database) {
            backend.dropDatabase(database);
        }

        @Override
        public Collection<Document> getCurrentOperations(MongoQuery query) {
            return backend.getCurrentOperations(query);
        }

        @Override
        public Document getServerStatus() {
            return backend.getServerStatus();
        }

        @Override
        public void close() {
            // the owner (the plain listener's server) closes the backend
        }

        @Override
        public void closeCursors(List<Long> cursorIds) {
            backend.closeCursors(cursorIds);
        }

        @Override
        public Clock getClock() {
            return backend.getClock();
        }

        @Override
        public void enableOplog() {
            backend.enableOplog();
        }

        @Override
        public void disableOplog() {
            backend.disableOplog();
        }

        @Override
        public MongoDatabase resolveDatabase(String database) {
            return backend.resolveDatabase(database);
        }

        @Override
        public MongoBackend version(MongoVersion version) {
            backend.version(version);
            return this;
        }
    }

    private static String require(String name, String value) {
        if (value == null) {
            fail(name + " needs a value");
        }
        return value;
    }

    private static void fail(String message) {
        System.err.println("mongo-server: " + message);
        System.exit(2);
    }

    private static void log(String message) {
        System.err.println("mongo-server: " + message);
        System.err.flush();
    }
}
