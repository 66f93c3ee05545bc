"""A labelled set for choosing the overlap text-similarity method (see registry/overlap/text.py).

Project descriptions of the kind ESF+ "Development of working life" projects write, in Finnish
and Swedish, grouped by topic: two texts of one topic (written differently, with other word
forms, as two projects would) are a similar pair; two texts of different topics in the same
language are a dissimilar pair, though all share the theme's vocabulary (työhyvinvointi,
henkilöstö, yritykset...). Used by tests/registry/test_overlap.py (a floor on precision and
recall) and bench/overlap.py (the comparison in bench/RESULTS.md).
"""

from __future__ import annotations

from itertools import combinations

TEXTS: list[tuple[str, str, str]] = [
    # (topic, language, text)
    ("age", "fi", "Ikäjohtamisella pidempiä työuria pk-yrityksissä. Hanke kehittää pienten ja "
     "keskisuurten yritysten esihenkilöille ikäjohtamisen toimintamallin, jolla ikääntyvien "
     "työntekijöiden työkykyä ja osaamista tuetaan ja hiljainen tieto siirtyy nuoremmille."),
    ("age", "fi", "Ikäjohtaminen pienyrityksissä: esimiehet tukemaan ikääntyneiden "
     "työntekijöiden jaksamista. Valmennamme pk-yritysten johtoa ikäjohtamiseen, "
     "sukupolvien väliseen osaamisen siirtoon ja työurien pidentämiseen."),
    ("age", "fi", "Kokeneet osaajat töihin pidempään. Pilotoimme ikäystävällisiä "
     "työaikajärjestelyjä ja mentorointia, joilla ikääntyvien työntekijöiden työkyky säilyy "
     "ja hiljaisen tiedon siirto nuorille onnistuu pk-yrityksissä."),
    ("psych", "fi", "Psykososiaalisen kuormituksen hallinta sote-alan työyhteisöissä. Hanke "
     "kartoittaa hoitajien kuormitustekijät ja kehittää työterveyshuollon kanssa "
     "varhaisen tuen mallin, jolla kuormitukseen puututaan ajoissa."),
    ("psych", "fi", "Hoitotyön kuormitus hallintaan. Sosiaali- ja terveysalan "
     "työpaikoille kehitetään yhdessä työterveyshuollon kanssa varhaisen puuttumisen "
     "toimintamalli psykososiaalisten kuormitustekijöiden tunnistamiseen."),
    ("digi", "fi", "Tekoäly ja ohjelmistorobotiikka valmistavan teollisuuden pk-yrityksiin. "
     "Hanke auttaa yrityksiä ottamaan käyttöön digitaalisia työkaluja tuotantoprosessien "
     "automatisointiin ja kouluttaa henkilöstöä uusiin tehtäviin."),
    ("digi", "fi", "Digiloikka konepajoille: ohjelmistorobotit ja tekoälysovellukset "
     "tuotannon suunnitteluun. Valmistavan teollisuuden työntekijät koulutetaan "
     "digitaalisten työkalujen käyttäjiksi ja automatisoinnin myötä uudistuviin tehtäviin."),
    ("intl", "fi", "Kansainväliset osaajat työyhteisöön. Hanke kehittää yrityksille "
     "kansainvälisen rekrytoinnin ja perehdytyksen mallin sekä kotoutumista tukevan "
     "työpaikkasuomen koulutuksen ulkomaalaisille työntekijöille."),
    ("intl", "fi", "Ulkomaisten työntekijöiden perehdyttäminen ja kielituki työpaikoilla. "
     "Tuemme työnantajia kansainvälisten osaajien rekrytoinnissa, perehdytyksessä ja "
     "työpaikalla tapahtuvassa suomen kielen oppimisessa."),
    ("hybrid", "fi", "Hybridityön johtaminen asiantuntijaorganisaatioissa. Kehitämme "
     "etätyön ja toimistotyön yhdistämiseen johtamiskäytännöt, yhteiset pelisäännöt ja "
     "digitaaliset kohtaamisen tavat, jotka tukevat työhyvinvointia."),
    ("hybrid", "fi", "Etä- ja lähityön yhdistelmä hallintaan. Hanke valmentaa esihenkilöitä "
     "johtamaan hybridityötä, sopimaan työyhteisön pelisäännöistä ja vahvistamaan "
     "yhteisöllisyyttä etätyössä."),
    ("safety", "fi", "Työturvallisuus rakennustyömailla. Hanke vähentää tapaturmia "
     "kehittämällä rakennusalan yrityksille turvallisuusjohtamisen työkalut, "
     "työmaiden riskinarvioinnin ja perehdytyksen ulkomaisille rakentajille."),
    ("safety", "fi", "Turvallisempi rakennustyömaa: tapaturmien ennaltaehkäisy "
     "riskienarvioinnilla ja turvallisuusjohtamisella. Rakennusyritysten työnjohtoa "
     "valmennetaan ja työmaaperehdytys uudistetaan."),
    ("learning", "fi", "Oppiva kunta: osaamisen johtaminen kuntaorganisaatioissa. Hanke "
     "kehittää kuntien esihenkilöille osaamiskartoituksen ja osaamisen johtamisen "
     "mallin, jolla oppimismyönteinen ilmapiiri vahvistuu."),
    ("learning", "fi", "Kuntatyöpaikkojen oppimismyönteisyys. Kartoitamme kuntien "
     "henkilöstön osaamistarpeet ja valmennamme johtoa osaamisen johtamiseen, jotta "
     "jatkuva oppiminen kuuluu arkeen."),
    ("change", "fi", "Muutosneuvontaa lomautus- ja irtisanomistilanteissa oleville "
     "yrityksille. Hanke vahvistaa pk-yritysten muutoskyvykkyyttä neuvonnan, "
     "yritysverkostojen ja henkilöstön uudelleenkoulutuksen avulla."),
    ("change", "fi", "Yritysten muutosvalmiuden vahvistaminen rakennemuutoksessa. "
     "Tarjoamme neuvontaa ja ohjausta muutostilanteessa oleville yrityksille, "
     "ennakoimme lomautuksia ja järjestämme henkilöstölle uudelleenkoulutusta."),
    ("family", "fi", "Työn ja perheen yhteensovittaminen vuorotyössä. Kehitämme "
     "kaupan ja palvelualojen työpaikoille joustavia työaikamalleja ja perheystävällisiä "
     "käytäntöjä, jotka helpottavat työn ja yksityiselämän yhteensovittamista."),
    ("family", "fi", "Perheystävällinen vuorotyöpaikka. Hanke pilotoi palvelualan "
     "yrityksissä työvuorosuunnittelua ja joustoja, joilla työn, perheen ja vapaa-ajan "
     "yhteensovittaminen onnistuu paremmin."),
    ("diversity", "fi", "Monimuotoinen työyhteisö: yhdenvertaisuus ja inkluusio "
     "rekrytoinnissa ja johtamisessa. Hanke kouluttaa organisaatioita tunnistamaan "
     "syrjintää ja hyödyntämään monimuotoisuutta."),
    ("diversity", "fi", "Yhdenvertaisuutta ja monimuotoisuutta työpaikoille. "
     "Tuemme työnantajia inklusiivisessa rekrytoinnissa, syrjimättömässä johtamisessa "
     "ja monimuotoisten työyhteisöjen rakentamisessa."),
    ("lean", "fi", "Tuottavuutta ravintoloihin lean-menetelmillä. Hanke auttaa "
     "majoitus- ja ravitsemisalan yrityksiä sujuvoittamaan työprosesseja, vähentämään "
     "hukkaa ja parantamaan samalla työntekijöiden hyvinvointia."),
    ("lean", "fi", "Leanilla sujuvuutta ravitsemisalalle. Ravintolayritysten "
     "prosesseja kehitetään yhdessä henkilöstön kanssa: hukan vähentäminen, "
     "tuottavuuden kasvu ja parempi työhyvinvointi."),
    ("worktrack", "fi", "Osatyökykyiset työelämään. Hanke kehittää työnantajille "
     "työn muokkaamisen ja työkyvyn tuen keinoja, joilla osatyökykyisten "
     "työllistyminen ja työssä pysyminen paranevat."),
    ("worktrack", "fi", "Työkyvyn tuki ja työn muokkaaminen osatyökykyisille. "
     "Valmennamme työnantajia sovittamaan tehtäviä ja työoloja niin, että "
     "osatyökykyiset työntekijät voivat jatkaa työssä."),
    # Swedish
    ("age", "sv", "Åldersledning i små och medelstora företag. Projektet utvecklar en modell "
     "för chefer som stöder äldre arbetstagares arbetsförmåga och överföringen av tyst "
     "kunskap till yngre kolleger."),
    ("age", "sv", "Längre arbetskarriärer genom åldersmedveten ledning. Vi utbildar "
     "chefer i småföretag att leda äldre medarbetare och att föra tyst kunskap vidare "
     "mellan generationerna."),
    ("psych", "sv", "Psykosocial belastning inom social- och hälsovården. Projektet "
     "kartlägger vårdarnas belastningsfaktorer och utvecklar tillsammans med "
     "företagshälsovården en modell för tidigt stöd."),
    ("psych", "sv", "Hantering av psykosocial belastning i vårdarbetet. Arbetsplatser inom "
     "vården får en modell för tidigt ingripande som tas fram med företagshälsovården."),
    ("intl", "sv", "Internationella experter till arbetsplatserna. Projektet stöder "
     "arbetsgivare i rekrytering och introduktion av utländska arbetstagare och ordnar "
     "språkundervisning på arbetsplatsen."),
    ("intl", "sv", "Introduktion och språkstöd för utländsk arbetskraft. Vi hjälper "
     "företag att rekrytera internationella experter och att introducera dem i "
     "arbetsgemenskapen."),
    ("hybrid", "sv", "Ledning av hybridarbete i expertorganisationer. Vi utvecklar "
     "ledningspraxis, gemensamma spelregler och digitala mötesformer för distansarbete "
     "som stöder välbefinnandet i arbetet."),
    ("hybrid", "sv", "Distans- och närarbete i balans. Projektet tränar chefer att leda "
     "hybridarbete och att komma överens om arbetsgemenskapens spelregler."),
    ("safety", "sv", "Arbetssäkerhet på byggarbetsplatser. Projektet minskar olycksfall "
     "genom säkerhetsledning, riskbedömning och introduktion för utländska byggarbetare."),
    ("safety", "sv", "Säkrare byggplatser: förebyggande av olyckor med riskbedömning och "
     "säkerhetsledning. Arbetsledningen i byggföretag utbildas."),
    ("family", "sv", "Att förena arbete och familj i skiftarbete. Vi utvecklar flexibla "
     "arbetstidsmodeller och familjevänliga rutiner för handeln och servicebranschen."),
    ("family", "sv", "Familjevänliga arbetsplatser med skiftarbete. Projektet prövar "
     "arbetsturplanering och flexibilitet i serviceföretag så att arbete och familjeliv "
     "går ihop."),
]


def pairs() -> list[tuple[int, int, bool]]:
    """Every pair of texts in the same language: (index a, index b, similar?)."""
    out = []
    for i, j in combinations(range(len(TEXTS)), 2):
        if TEXTS[i][1] == TEXTS[j][1]:
            out.append((i, j, TEXTS[i][0] == TEXTS[j][0]))
    return out


def precision_recall(scores: list[float], labels: list[bool], threshold: float) -> tuple[float, float]:
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and not y)
    fn = sum(1 for s, y in zip(scores, labels, strict=True) if s < threshold and y)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)
