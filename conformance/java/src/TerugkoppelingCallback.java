import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.xml.bind.JAXBContext;
import javax.xml.bind.JAXBException;
import javax.xml.soap.MessageFactory;
import javax.xml.soap.SOAPConstants;
import javax.xml.soap.SOAPException;
import javax.xml.soap.SOAPMessage;

import machtigingen.terugkoppeling.v1.OntvangenTerugkoppeling;

/**
 * The callback contract, terugkoppeling-v1: the provider implements
 * OntvangenTerugkoppeling and the platform calls it. Here the reference receiver
 * (MT_RECEIVER_URL) has taken the push and logged the body; this reads that SOAP
 * envelope the way a JAX-WS endpoint would (SAAJ, then JAXB with the classes
 * wsimport generated from the callback WSDL).
 */
final class TerugkoppelingCallback {
    private TerugkoppelingCallback() {}

    /** The first pushed OntvangenTerugkoppeling in {@code receiverLog} that mentions {@code needle}. */
    static OntvangenTerugkoppeling awaitPushed(Path receiverLog, String needle, Duration timeout)
            throws IOException, InterruptedException, SOAPException, JAXBException {
        Instant deadline = Instant.now().plus(timeout);
        while (true) {
            for (String line : Files.readAllLines(receiverLog, StandardCharsets.UTF_8)) {
                String envelope = bericht(line);
                if (envelope != null && envelope.contains(needle)) {
                    return unmarshal(envelope);
                }
            }
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("no pushed callback for " + needle + " within " + timeout);
            }
            Thread.sleep(250);
        }
    }

    static OntvangenTerugkoppeling unmarshal(String envelope) throws IOException, SOAPException, JAXBException {
        SOAPMessage message = MessageFactory.newInstance(SOAPConstants.SOAP_1_1_PROTOCOL)
                .createMessage(null, new ByteArrayInputStream(envelope.getBytes(StandardCharsets.UTF_8)));
        return (OntvangenTerugkoppeling) JAXBContext.newInstance(OntvangenTerugkoppeling.class)
                .createUnmarshaller()
                .unmarshal(message.getSOAPBody().extractContentAsDocument());
    }

    // The receiver writes one JSON object per line; a SOAP body is the string
    // value of "bericht". The JDK has no JSON parser, and a string is all we need.
    private static final Pattern BERICHT = Pattern.compile("\"bericht\":\"((?:[^\"\\\\]|\\\\.)*)\"");

    private static String bericht(String line) {
        Matcher m = BERICHT.matcher(line);
        if (!m.find()) {
            return null;
        }
        String s = m.group(1);
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'n' -> out.append('\n');
                case 'r' -> out.append('\r');
                case 't' -> out.append('\t');
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'u' -> {
                    out.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> out.append(e); // \" \\ \/
            }
        }
        return out.toString();
    }
}
