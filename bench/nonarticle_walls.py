"""Consent walls, paywall teasers and soft-404 pages in the styles of several publishers and
languages: the walls of the labelled non-article set (``bench.nonarticles``)."""

from __future__ import annotations

import random

from bench.nonarticle_templates import escape

# --------------------------------------------------------------------------- consent walls

_CONSENT: dict[str, list[tuple[str, str, list[str], list[str]]]] = {
    "en": [
        (
            "tcf",
            "We value your privacy",
            [
                "We and our 842 partners store and/or access information on a device, such as "
                "cookies, and process personal data, such as unique identifiers and standard "
                "information sent by a device for personalised advertising and content, "
                "advertising and content measurement, audience research and services development.",
                "With your permission we and our partners may use precise geolocation data and "
                "identification through device scanning. You may click to consent to our and our "
                "partners' processing as described above. Alternatively you may access more "
                "detailed information and change your preferences before consenting or to "
                "refuse consenting.",
                "Please note that some processing of your personal data may not require your "
                "consent, but you have a right to object to such processing. Your preferences "
                "will apply to this website only. You can change your preferences at any time.",
            ],
            ["Accept all", "Reject all", "Manage preferences", "List of partners (vendors)"],
        ),
        (
            "yes-happy",
            "Your privacy choices",
            [
                "We use cookies and similar technologies to keep this site working, to measure "
                "how you use it and, with your consent, to show you personalised ads.",
                "Tap 'Yes, I'm happy' to accept cookies or 'Manage my cookies' to choose. You can "
                "change your mind at any time in the privacy settings at the bottom of each page.",
            ],
            ["Yes, I'm happy", "Manage my cookies", "Privacy policy", "Cookie policy"],
        ),
    ],
    "de": [
        (
            "zustimmung",
            "Wir brauchen Ihre Zustimmung",
            [
                "Wir und unsere Partner verwenden Cookies und ähnliche Technologien, um "
                "Informationen auf Ihrem Gerät zu speichern und abzurufen. Mit Ihrer Einwilligung "
                "verarbeiten wir personenbezogene Daten für personalisierte Werbung und Inhalte, "
                "Messung von Werbung und Inhalten sowie Erkenntnisse über Zielgruppen.",
                "Sie können Ihre Einwilligung jederzeit über den Link „Datenschutz-Einstellungen“ "
                "am Ende jeder Seite widerrufen. Weitere Informationen finden Sie in unserer "
                "Datenschutzerklärung.",
            ],
            ["Alle akzeptieren", "Ablehnen", "Einstellungen", "Datenschutzerklärung"],
        ),
        (
            "pur",
            "Mit Werbung und Tracking lesen oder werbefrei im PUR-Abo",
            [
                "Nutzen Sie unser Angebot wie gewohnt mit Werbung und Tracking. Details zum "
                "Tracking finden Sie in der Datenschutzerklärung und im Privacy Center.",
                "Oder lesen Sie werbefrei und ohne Tracking für 3,99 € im Monat. Bereits "
                "PUR-Abonnent? Hier anmelden.",
            ],
            ["Akzeptieren und weiter", "Jetzt PUR abonnieren", "Privacy Center"],
        ),
    ],
    "fr": [
        (
            "didomi",
            "Vos choix concernant l'utilisation de cookies",
            [
                "Nos partenaires et nous déposons des cookies et utilisons des informations non "
                "sensibles de votre appareil pour améliorer nos produits et afficher des "
                "publicités et contenus personnalisés. Vous pouvez accepter ou refuser ces "
                "différentes opérations.",
                "Pour en savoir plus sur les cookies, les données que nous utilisons et les "
                "traitements que nous réalisons, consultez notre politique de confidentialité et "
                "la liste de nos partenaires. Vous pouvez modifier vos choix à tout moment.",
            ],
            ["Accepter et continuer", "Continuer sans accepter", "Paramétrer les cookies"],
        )
    ],
    "es": [
        (
            "consentimiento",
            "Tu privacidad es importante para nosotros",
            [
                "Nosotros y nuestros socios utilizamos cookies y tecnologías similares para "
                "almacenar y acceder a información en tu dispositivo, y tratamos datos "
                "personales como identificadores únicos para anuncios y contenido "
                "personalizados, medición de anuncios y contenido e investigación de audiencia.",
                "Puedes aceptar, rechazar o configurar tus preferencias en cualquier momento "
                "desde el enlace de configuración de cookies en el pie de página.",
            ],
            ["Aceptar y continuar", "Rechazar", "Configurar", "Política de cookies"],
        )
    ],
    "it": [
        (
            "consenso",
            "Informativa sui cookie",
            [
                "Noi e terze parti selezionate utilizziamo cookie o tecnologie simili per "
                "finalità tecniche e, con il tuo consenso, anche per altre finalità come "
                "specificato nella cookie policy. Il rifiuto del consenso può rendere non "
                "disponibili le relative funzioni.",
                "Puoi liberamente prestare, rifiutare o revocare il tuo consenso, in qualsiasi "
                "momento, accedendo al pannello delle preferenze.",
            ],
            ["Accetta", "Rifiuta", "Scopri di più e personalizza"],
        )
    ],
    "nl": [
        (
            "toestemming",
            "Wij vragen uw toestemming",
            [
                "Wij en onze partners gebruiken cookies en vergelijkbare technieken om "
                "informatie op uw apparaat op te slaan en te lezen, voor gepersonaliseerde "
                "advertenties en inhoud, advertentie- en inhoudsmeting en doelgroepinzichten.",
                "U kunt uw toestemming op elk moment intrekken via de privacy-instellingen "
                "onderaan elke pagina.",
            ],
            ["Akkoord", "Weigeren", "Instellingen aanpassen"],
        )
    ],
    "pl": [
        (
            "zgoda",
            "Szanujemy Twoją prywatność",
            [
                "My i nasi partnerzy przechowujemy informacje na urządzeniu i uzyskujemy do nich "
                "dostęp, na przykład pliki cookie, oraz przetwarzamy dane osobowe w celu "
                "wyświetlania spersonalizowanych reklam i treści oraz pomiaru reklam.",
                "Możesz wyrazić zgodę lub zarządzać ustawieniami w dowolnym momencie w "
                "ustawieniach prywatności.",
            ],
            ["Akceptuję", "Odrzuć", "Ustawienia zaawansowane"],
        )
    ],
    "pt": [
        (
            "consentimento",
            "A sua privacidade é importante",
            [
                "Nós e os nossos parceiros utilizamos cookies e tecnologias semelhantes para "
                "armazenar e aceder a informações no seu dispositivo e tratar dados pessoais "
                "para anúncios e conteúdos personalizados e medição de anúncios.",
                "Pode aceitar, recusar ou alterar as suas preferências a qualquer momento nas "
                "definições de privacidade.",
            ],
            ["Aceitar", "Recusar", "Gerir preferências"],
        )
    ],
}


def consent(lang: str, site: str, rng: random.Random) -> tuple[str, str, str]:
    """(style, content HTML, page title) of a consent wall."""
    # half the walls are in English whatever the page's language (global consent vendors)
    pool = _CONSENT[lang] if rng.random() < 0.6 else _CONSENT["en"]
    style, heading, paragraphs, buttons = rng.choice(pool)
    wrapper = rng.choice(("cmp-container", "sp_message_container", "didomi-popup", "consent"))
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    links = "".join(f"<button>{escape(b)}</button>" for b in buttons)
    content = (
        f"<div id='{wrapper}' role='dialog' aria-modal='true'><h2>{escape(heading)}</h2>"
        f"{body}<div class='buttons'>{links}</div></div>"
    )
    return style, content, rng.choice((site, f"{heading} | {site}"))


# --------------------------------------------------------------------------- paywalls

_PAYWALL: dict[str, list[tuple[str, list[str], list[str]]]] = {
    "en": [
        (
            "subscribe",
            [
                "This article is for subscribers only.",
                "Subscribe now for unlimited access to all our journalism, from £1 a week. "
                "Cancel anytime.",
                "Already a subscriber? Log in to continue reading.",
            ],
            ["Subscribe", "Log in"],
        ),
        (
            "meter",
            [
                "You have reached your limit of free articles this month.",
                "To continue reading, create a free account or subscribe for full digital access.",
            ],
            ["See subscription options", "Sign in"],
        ),
    ],
    "de": [
        (
            "plus",
            [
                "Weiterlesen mit Plus",
                "Sie möchten diesen Artikel lesen? Testen Sie jetzt unser Digital-Abo: "
                "4 Wochen für 0,99 €, danach monatlich kündbar.",
                "Sie sind bereits Abonnent? Hier anmelden.",
            ],
            ["Jetzt testen", "Anmelden"],
        ),
        (
            "fplus",
            [
                "Dieser Artikel ist exklusiv für Abonnenten.",
                "Jetzt weiterlesen mit F+: Zugang zu allen Artikeln für 2,95 € pro Woche, "
                "jederzeit kündbar.",
            ],
            ["Zum Angebot", "Login"],
        ),
    ],
    "fr": [
        (
            "abonnes",
            [
                "Cet article est réservé aux abonnés.",
                "Il vous reste 85 % de cet article à lire. Abonnez-vous pour lire la suite, "
                "à partir de 1 € le premier mois, sans engagement.",
                "Déjà abonné ? Se connecter",
            ],
            ["S'abonner", "Se connecter"],
        )
    ],
    "es": [
        (
            "suscriptores",
            [
                "Contenido exclusivo para suscriptores.",
                "Suscríbete para seguir leyendo: el primer mes por 1 €, cancela cuando quieras.",
                "¿Ya eres suscriptor? Inicia sesión.",
            ],
            ["Suscríbete", "Iniciar sesión"],
        )
    ],
    "it": [
        (
            "abbonati",
            [
                "Articolo riservato agli abbonati.",
                "Abbonati per continuare a leggere: il primo mese a 1 €, disdici quando vuoi.",
                "Sei già abbonato? Accedi.",
            ],
            ["Abbonati", "Accedi"],
        )
    ],
    "nl": [
        (
            "abonnees",
            [
                "Dit artikel is alleen voor abonnees.",
                "Word abonnee en lees onbeperkt verder, de eerste maand voor € 1, "
                "maandelijks opzegbaar.",
                "Al abonnee? Log in.",
            ],
            ["Abonneer", "Inloggen"],
        )
    ],
    "pl": [
        (
            "premium",
            [
                "Ten artykuł jest dostępny tylko dla subskrybentów.",
                "Wykup subskrypcję, aby czytać dalej: pierwszy miesiąc za 1 zł.",
                "Masz już subskrypcję? Zaloguj się.",
            ],
            ["Kup subskrypcję", "Zaloguj się"],
        )
    ],
    "pt": [
        (
            "assinantes",
            [
                "Este conteúdo é exclusivo para assinantes.",
                "Assine para continuar lendo: o primeiro mês por R$ 1,90, cancele quando quiser.",
                "Já é assinante? Faça login.",
            ],
            ["Assine", "Entrar"],
        )
    ],
}


def paywall(
    lang: str, title: str, lead: str | None, site: str, rng: random.Random
) -> tuple[str, str]:
    """(style, content HTML): the headline, the lead (at most two sentences), the box."""
    style, paragraphs, buttons = rng.choice(_PAYWALL[lang])
    teaser = ""
    if lead:
        sentences = lead.split(". ")
        teaser = ". ".join(sentences[: rng.randint(1, 2)]).strip()
        teaser = " ".join(teaser.split()[:45])
    box = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    box += "".join(f"<a class='button' href='/abo'>{escape(b)}</a>" for b in buttons)
    content = (
        f"<article><h1>{escape(title)}</h1>"
        + (f"<p class='lead'>{escape(teaser)}</p>" if teaser else "")
        + f"<div class='paywall {style}'>{box}</div></article>"
    )
    return style, content


# --------------------------------------------------------------------------- error pages

_ERROR: dict[str, list[tuple[str, str, list[str]]]] = {
    "en": [
        (
            "404",
            "Page not found",
            [
                "Sorry, we couldn't find the page you were looking for. It may have been moved "
                "or deleted.",
                "Try searching our site or go back to the homepage.",
            ],
        ),
        (
            "oops",
            "Oops! Something went wrong",
            [
                "The page you requested is temporarily unavailable. Please try again later.",
                "Error 500",
            ],
        ),
    ],
    "de": [
        (
            "404",
            "Seite nicht gefunden",
            [
                "Die von Ihnen aufgerufene Seite existiert leider nicht (mehr). Vielleicht "
                "hilft Ihnen unsere Suche weiter.",
                "Fehler 404 – zurück zur Startseite",
            ],
        )
    ],
    "fr": [
        (
            "404",
            "Page introuvable",
            [
                "La page que vous recherchez n'existe pas ou a été déplacée.",
                "Erreur 404 – retour à l'accueil",
            ],
        )
    ],
    "es": [
        (
            "404",
            "Página no encontrada",
            [
                "Lo sentimos, la página que buscas no existe o ha sido eliminada.",
                "Error 404. Vuelve a la portada o utiliza el buscador.",
            ],
        )
    ],
    "it": [
        (
            "404",
            "Pagina non trovata",
            ["La pagina che stai cercando non esiste o è stata spostata.", "Errore 404"],
        )
    ],
    "nl": [
        (
            "404",
            "Pagina niet gevonden",
            ["De pagina die u zoekt bestaat niet (meer).", "Foutcode 404"],
        )
    ],
    "pl": [
        (
            "404",
            "Nie znaleziono strony",
            ["Strona, której szukasz, nie istnieje lub została przeniesiona.", "Błąd 404"],
        )
    ],
    "pt": [
        (
            "404",
            "Página não encontrada",
            ["A página que você procura não existe ou foi removida.", "Erro 404"],
        )
    ],
}


def error(lang: str, site: str, rng: random.Random) -> tuple[str, str, str]:
    """(style, content HTML, page title) of an error page served with status 200."""
    style, heading, paragraphs = rng.choice(_ERROR[lang])
    content = f"<div class='error-page'><h1>{escape(heading)}</h1>" + "".join(
        f"<p>{escape(p)}</p>" for p in paragraphs
    )
    content += "</div>"
    return style, content, rng.choice((f"{heading} | {site}", f"404 - {site}", heading))
