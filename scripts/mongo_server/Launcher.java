import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The local MongoDB wire-protocol server: mongo-java-server on a loopback port.
 *
 * <pre>
 *   java -cp CLASSES:LIB/* Launcher --port 57017 [--host 127.0.0.1] --backend memory
 *   java -cp CLASSES:LIB/* Launcher --port 57017 --backend h2 --file .stack/mongo-data/data.mv
 * </pre>
 *
 * The memory backend starts empty every time (tests, throwaway instances); the H2 backend keeps
 * everything in one MVStore file across restarts (scripts/run). SIGTERM closes the backend
 * cleanly, so the H2 file is complete on disk when the process exits.
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
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (arg) {
                case "--host" -> host = require(arg, value);
                case "--port" -> port = Integer.parseInt(require(arg, value));
                case "--backend" -> backendName = require(arg, value);
                case "--file" -> file = require(arg, value);
                default -> fail("unknown argument " + arg);
            }
            i++;
        }
        if (port <= 0 || port > 65535) {
            fail("--port PORT is required (1-65535)");
        }

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
        server.bind(host, port);
        log("listening on " + host + ":" + port + ", " + described + ", reporting MongoDB "
                + MONGO_4_4.toVersionString() + " (wire " + MONGO_4_4.getWireVersion() + ")");

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("stopping");
            // shutdownNow closes the connections and then the backend (H2: the MVStore file)
            server.shutdownNow();
            log("stopped");
            stopped.countDown();
        }, "mongo-server-shutdown"));
        stopped.await();
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
