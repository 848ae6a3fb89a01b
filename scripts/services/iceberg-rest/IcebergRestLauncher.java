/*
 * Serves an Iceberg REST catalog on 127.0.0.1 with Apache Iceberg's own request handlers
 * (RESTCatalogAdapter over a JDBC/SQLite catalog, S3FileIO on the local S3 server).
 *
 * Used only to test ingestgen's multi-table `transactions/commit` against the reference
 * implementation of the Iceberg REST protocol. Run in source-file mode:
 *   java -cp "lib/*" IcebergRestLauncher.java <catalog.properties> <port-file>
 * `rest.host` and `rest.port` (0 = any free port) come from the properties file, which also
 * holds the S3 keys (so they stay out of argv). The bound port is written to <port-file>.
 */

import java.io.FileReader;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public class IcebergRestLauncher {
  public static void main(String[] args) throws Exception {
    Properties file = new Properties();
    try (Reader reader = new FileReader(args[0])) {
      file.load(reader);
    }
    Map<String, String> props = new HashMap<>();
    file.stringPropertyNames().forEach(k -> props.put(k, file.getProperty(k)));
    String host = props.remove("rest.host");
    int port = Integer.parseInt(props.remove("rest.port"));

    // No Hadoop configuration: S3FileIO and the JDBC catalog do not need one.
    Catalog catalog = CatalogUtil.buildIcebergCatalog("reference", props, null);
    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(new RESTCatalogAdapter(catalog))), "/*");

    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(host);
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(context);
    server.start();

    Path portFile = Path.of(args[1]);
    Path tmp = Path.of(args[1] + ".tmp");
    Files.writeString(tmp, connector.getLocalPort() + "\n");
    Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
    System.out.println("Iceberg REST catalog on http://" + host + ":" + connector.getLocalPort());
    server.join();
  }
}
