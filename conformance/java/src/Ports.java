import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collections;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import javax.xml.namespace.QName;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Service;

import com.sun.xml.ws.api.SOAPVersion;
import com.sun.xml.ws.api.WSBinding;
import com.sun.xml.ws.developer.JAXWSProperties;

/**
 * Mutual TLS and endpoint set-up for generated JAX-WS ports, with nothing but
 * javax.net.ssl and the JAX-WS RI.
 *
 * The identity is a PKCS#12 key store (the .p12 that `machtigingen pki issue`
 * writes), the trust is the platform CA as PEM. The SSLSocketFactory is set per
 * port through the RI's request-context property, not JVM-wide, so one program
 * can call as several parties (here: provider, insurer and portal).
 */
final class Ports {
    private Ports() {}

    /** A socket factory presenting the certificate in {@code p12} and trusting only {@code caPem}. */
    static SSLSocketFactory mutualTls(Path p12, char[] password, Path caPem)
            throws IOException, GeneralSecurityException {
        KeyStore identity = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            identity.load(in, password);
        }
        // JSSE silently sends no certificate when it cannot read one from the
        // store (e.g. an encrypted certificate bag it could not decrypt); say so
        // here instead of failing later with a bare handshake alert.
        boolean usable = false;
        for (String alias : Collections.list(identity.aliases())) {
            Certificate[] chain = identity.getCertificateChain(alias);
            usable |= identity.isKeyEntry(alias) && chain != null && chain.length > 0;
        }
        if (!usable) {
            throw new GeneralSecurityException(p12 + ": no private key with a certificate chain readable by JSSE");
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(identity, password);

        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(caPem)) {
            int n = 0;
            for (Certificate ca : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca" + n++, ca);
            }
        }
        TrustManagerFactory trusted = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trusted.init(trust);

        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(keys.getKeyManagers(), trusted.getTrustManagers(), null);
        return tls.getSocketFactory();
    }

    /**
     * The port {@code portName} of a generated service as {@code sei}, calling
     * {@code address} over {@code tls}. The SOAP 1.2 port needs no generated
     * getter: wsimport without -extension skips SOAP 1.2 ports, but both ports
     * share one portType, so the SEI it generated for SOAP 1.1 serves the
     * SOAP 1.2 port of the same WSDL.
     */
    static <P> P open(Service service, String portName, Class<P> sei, Soap soap,
                      SSLSocketFactory tls, String address) {
        QName name = new QName(service.getServiceName().getNamespaceURI(), portName);
        P port = service.getPort(name, sei);
        BindingProvider bp = (BindingProvider) port;
        bp.getRequestContext().put(JAXWSProperties.SSL_SOCKET_FACTORY, tls);
        bp.getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, address);
        SOAPVersion actual = ((WSBinding) bp.getBinding()).getSOAPVersion();
        if (actual != soap.version) {
            throw new IllegalStateException(portName + " is " + actual + ", expected " + soap.version);
        }
        return port;
    }

    /** The two SOAP versions every service offers, and the port name suffix of each. */
    enum Soap {
        SOAP11("soap11", "Soap11", SOAPVersion.SOAP_11),
        SOAP12("soap12", "Soap12", SOAPVersion.SOAP_12);

        final String label;
        final String portSuffix;
        final SOAPVersion version;

        Soap(String label, String portSuffix, SOAPVersion version) {
            this.label = label;
            this.portSuffix = portSuffix;
            this.version = version;
        }
    }
}
