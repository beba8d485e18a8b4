"""What pages that are not articles say: consent dialogs, paywalls, error pages, in the
languages we ingest (used by :mod:`ingest.extract.notarticle`)."""

from __future__ import annotations

import re

__all__ = ["CONSENT", "ERROR", "PAYWALL"]

# the words of consent dialogs (cookie banners, TCF walls) in the languages we ingest
CONSENT = re.compile(
    r"\b(?:cookies?|consent|consentement|consentimiento|consenso|einwilligung|zustimmung"
    r"|toestemming|zgod[aęy]|consentimento|partners?|partenaires|socios|partner[ns]?|parceiros"
    r"|personali[sz]ed|personnalisé|personalizad|personalizzat|personalisierte?|gepersonaliseerde"
    r"|spersonalizowan|privacy|datenschutz|confidentialité|privacidad|prywatno|privacidade"
    r"|preferences|préférences|preferencias|preferenze|einstellungen|voorkeuren|ustawienia"
    r"|advertising|publicités?|werbung|anuncios|pubblicità|advertenties|reklam|anúncios"
    r"|accept(?:er)?|akzeptieren|aceptar|accetta|akkoord|akceptuj|aceitar|reject|ablehnen"
    r"|rechazar|rifiuta|weigeren|odrzuć|recusar|refuser|tracking|vendors?|identifiers?"
    r"|geolocation|device|appareil|dispositivo|gerät|apparaat|urządzeni"
    # pay-or-consent walls: accept tracking or pay for the ad-free version
    r"|werbefrei|ad-free|sans publicité|sin publicidad|pur-abo|contentpass)\w*",
    re.IGNORECASE,
)
# wording that says the rest of the page is locked (not a menu's "Subscribe" link)
PAYWALL = re.compile(
    r"(?:for subscribers only|subscriber-only|subscribe (?:now )?(?:to continue|for unlimited)"
    r"|to continue reading,? (?:please )?(?:subscribe|log in|sign in|create)|limit of free articles"
    r"|exklusiv für abonnenten|nur für abonnenten|weiterlesen mit|artikel ist exklusiv"
    r"|réservé aux abonnés|abonnez-vous pour lire|il vous reste \d+ ?% de cet article"
    r"|exclusivo para suscriptores|suscríbete para seguir|riservato agli abbonati"
    r"|abbonati per continuare|alleen voor abonnees|tylko dla subskrybentów"
    r"|exclusivo para assinantes|assine para continuar)",
    re.IGNORECASE,
)
ERROR = re.compile(
    r"(?:\b404\b|page not found|page (?:cannot|could not) be found|couldn't find the page"
    r"|something went wrong|temporarily unavailable|error 500|seite nicht gefunden"
    r"|seite existiert (?:leider )?nicht|fehler 404|page introuvable|n'existe pas|erreur 404"
    r"|página no encontrada|no existe o ha sido|error 404|pagina non trovata|errore 404"
    r"|pagina niet gevonden|bestaat niet|nie znaleziono strony|błąd 404"
    r"|página não encontrada|não existe ou foi|erro 404)",
    re.IGNORECASE,
)
